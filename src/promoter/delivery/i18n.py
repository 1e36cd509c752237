"""The survey email's and pages' words, in each template language."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "question": "How likely are you to recommend {brand} to a friend or colleague?",
        "not_likely": "Not at all likely",
        "very_likely": "Extremely likely",
        "reminder": "Reminder",
        "unsubscribe": "Unsubscribe",
        "why": "You received this email because you use {brand}.",
        "hint": "Click a number to answer.",
    },
    "de": {
        "question": "Wie wahrscheinlich ist es, dass Sie {brand} einem Freund oder Kollegen "
        "empfehlen?",
        "not_likely": "Überhaupt nicht wahrscheinlich",
        "very_likely": "Äußerst wahrscheinlich",
        "reminder": "Erinnerung",
        "unsubscribe": "Abmelden",
        "why": "Sie erhalten diese E-Mail, weil Sie {brand} nutzen.",
        "hint": "Klicken Sie auf eine Zahl, um zu antworten.",
    },
    "fr": {
        "question": "Quelle est la probabilité que vous recommandiez {brand} à un ami ou "
        "un collègue ?",
        "not_likely": "Pas du tout probable",
        "very_likely": "Très probable",
        "reminder": "Rappel",
        "unsubscribe": "Se désabonner",
        "why": "Vous recevez cet e-mail parce que vous utilisez {brand}.",
        "hint": "Cliquez sur un chiffre pour répondre.",
    },
    "es": {
        "question": "¿Qué probabilidad hay de que recomiende {brand} a un amigo o colega?",
        "not_likely": "Nada probable",
        "very_likely": "Muy probable",
        "reminder": "Recordatorio",
        "unsubscribe": "Darse de baja",
        "why": "Recibe este correo porque utiliza {brand}.",
        "hint": "Haga clic en un número para responder.",
    },
}


def words(language: str, brand: str) -> dict[str, str]:
    table = STRINGS.get(language, STRINGS["en"])
    return {key: text.format(brand=brand) for key, text in table.items()}
