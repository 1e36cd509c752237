"""The dashboard's campaign form, filled in by the tests."""

from __future__ import annotations


#: A form with every campaign and template setting, all different from the defaults.
def every_setting(list_id: int) -> dict[str, object]:
    return {
        "name": "Onboarding <b>NPS</b>",
        "kind": "segment",
        "status": "paused",
        "trigger_events": "Signed Up\r\nOrder Completed\r\n\r\nSigned Up",
        "delay_minutes": "120",
        "throttle_days": "30",
        "weekdays_only": "on",
        "send_window_start": "9",
        "send_window_end": "17",
        "reminder_days": "5",
        "forward_email": "feedback@acme.example.com",
        "contact_list_id": str(list_id),
        "subject": "A quick question about <Acme>",
        "from_name": "Ana from Acme",
        "reply_to": "ana@acme.example.com",
        "intro_message": "Thanks for signing up & welcome.",
        "brand_name": "Acme Shop",
        "language": "fr",
        "logo_url": "https://acme.example.com/logo.png",
    }
