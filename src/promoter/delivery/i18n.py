"""The survey email's and pages' words, in each template language."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "send": "Send",
        "comment_prompt": "What is the main reason for your score? (optional)",
        "comment_send": "Send comment",
        "thanks": "Thank you for your feedback.",
        "unsubscribe_confirm": "Stop receiving survey emails from {brand}?",
        "unsubscribed": "You are unsubscribed. You will not receive survey emails from "
        "{brand} again.",
        "not_found": "This survey link is not valid.",
        "bad_score": "Please choose a score from 0 to 10.",
        "your_score": "Your score",
        "already_unsubscribed": "You are unsubscribed from {brand}'s surveys.",
        "question": "How likely are you to recommend {brand} to a friend or colleague?",
        "not_likely": "Not at all likely",
        "very_likely": "Extremely likely",
        "reminder": "Reminder",
        "unsubscribe": "Unsubscribe",
        "why": "You received this email because you use {brand}.",
        "hint": "Click a number to answer.",
        "comment_too_long": "Your comment was not saved: it is too long. Please shorten it "
        "to at most 5,000 characters and send it again.",
        "comment_missing": "Your comment was not received. Please send it again.",
        "confirm": "Confirm",
        "skip": "Skip",
        "saving": "Saving your score…",
        "saved": "Thank you! Your score is saved. You can still change it.",
        "confirm_needed": "Press Confirm to save your score.",
        "save_failed": "Your score could not be saved. Please press Confirm.",
        "closed": "This survey is closed. Thank you for your time.",
        "closed_answer": "This survey is closed. This is the answer we recorded.",
        "answered": "You have already answered. You can change your answer below.",
        "choose_one": "Choose one.",
        "choose_any": "Choose all that apply.",
        "scale_ends": "1 = lowest, 5 = highest",
        "answer_required": "Please answer this question.",
        "bad_answer": "Please check this answer.",
        "score_group": "Score from 0 to 10",
        "logo_alt": "{brand} logo",
    },
    "de": {
        "send": "Senden",
        "comment_prompt": "Vielen Dank! Was ist der wichtigste Grund für Ihre Bewertung?",
        "comment_send": "Kommentar senden",
        "thanks": "Vielen Dank für Ihr Feedback.",
        "unsubscribe_confirm": "Keine Umfrage-E-Mails von {brand} mehr erhalten?",
        "unsubscribed": "Sie sind abgemeldet. Sie erhalten keine Umfrage-E-Mails von {brand} mehr.",
        "not_found": "Dieser Umfragelink ist ungültig.",
        "bad_score": "Bitte wählen Sie eine Bewertung von 0 bis 10.",
        "your_score": "Ihre Bewertung",
        "already_unsubscribed": "Sie sind von den Umfragen von {brand} abgemeldet.",
        "question": "Wie wahrscheinlich ist es, dass Sie {brand} einem Freund oder Kollegen "
        "empfehlen?",
        "not_likely": "Überhaupt nicht wahrscheinlich",
        "very_likely": "Äußerst wahrscheinlich",
        "reminder": "Erinnerung",
        "unsubscribe": "Abmelden",
        "why": "Sie erhalten diese E-Mail, weil Sie {brand} nutzen.",
        "hint": "Klicken Sie auf eine Zahl, um zu antworten.",
        "comment_too_long": "Ihr Kommentar wurde nicht gespeichert: Er ist zu lang. Bitte "
        "kürzen Sie ihn auf höchstens 5.000 Zeichen und senden Sie ihn erneut.",
        "comment_missing": "Ihr Kommentar ist nicht angekommen. Bitte senden Sie ihn erneut.",
    },
    "fr": {
        "send": "Envoyer",
        "comment_prompt": "Merci ! Quelle est la raison principale de votre note ?",
        "comment_send": "Envoyer le commentaire",
        "thanks": "Merci pour votre avis.",
        "unsubscribe_confirm": "Ne plus recevoir les enquêtes de {brand} ?",
        "unsubscribed": "Vous êtes désabonné. Vous ne recevrez plus d'enquêtes de {brand}.",
        "not_found": "Ce lien d'enquête n'est pas valide.",
        "bad_score": "Veuillez choisir une note de 0 à 10.",
        "your_score": "Votre note",
        "already_unsubscribed": "Vous êtes désabonné des enquêtes de {brand}.",
        "question": "Quelle est la probabilité que vous recommandiez {brand} à un ami ou "
        "un collègue ?",
        "not_likely": "Pas du tout probable",
        "very_likely": "Très probable",
        "reminder": "Rappel",
        "unsubscribe": "Se désabonner",
        "why": "Vous recevez cet e-mail parce que vous utilisez {brand}.",
        "hint": "Cliquez sur un chiffre pour répondre.",
        "comment_too_long": "Votre commentaire n'a pas été enregistré : il est trop long. "
        "Raccourcissez-le à 5 000 caractères au plus et envoyez-le à nouveau.",
        "comment_missing": "Votre commentaire n'a pas été reçu. Veuillez l'envoyer à nouveau.",
    },
    "es": {
        "send": "Enviar",
        "comment_prompt": "¡Gracias! ¿Cuál es el motivo principal de su puntuación?",
        "comment_send": "Enviar comentario",
        "thanks": "Gracias por sus comentarios.",
        "unsubscribe_confirm": "¿Dejar de recibir encuestas de {brand}?",
        "unsubscribed": "Se ha dado de baja. No volverá a recibir encuestas de {brand}.",
        "not_found": "Este enlace de encuesta no es válido.",
        "bad_score": "Elija una puntuación de 0 a 10.",
        "your_score": "Su puntuación",
        "already_unsubscribed": "Se ha dado de baja de las encuestas de {brand}.",
        "question": "¿Qué probabilidad hay de que recomiende {brand} a un amigo o colega?",
        "not_likely": "Nada probable",
        "very_likely": "Muy probable",
        "reminder": "Recordatorio",
        "unsubscribe": "Darse de baja",
        "why": "Recibe este correo porque utiliza {brand}.",
        "hint": "Haga clic en un número para responder.",
        "comment_too_long": "Su comentario no se ha guardado: es demasiado largo. Acórtelo "
        "a 5.000 caracteres como máximo y envíelo de nuevo.",
        "comment_missing": "No hemos recibido su comentario. Envíelo de nuevo.",
    },
}


def words(language: str, brand: str) -> dict[str, str]:
    table = {**STRINGS["en"], **STRINGS.get(language, {})}
    return {key: text.format(brand=brand) for key, text in table.items()}


#: Languages written right to left.
RIGHT_TO_LEFT = frozenset({"ar", "he", "fa", "ur"})


def text_direction(language: str) -> str:
    return "rtl" if language in RIGHT_TO_LEFT else "ltr"
