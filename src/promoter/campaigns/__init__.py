"""Campaigns and their email templates."""
