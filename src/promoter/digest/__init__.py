"""The weekly digest emailed to dashboard users: the week's NPS, its movers and comments."""
