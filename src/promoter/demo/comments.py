"""What the demo's contacts write in their answers, by language and score category, with
the tags the team gives each comment."""

from __future__ import annotations

from typing import Literal

TAGS = ("pricing", "bug", "onboarding", "support", "praise")

Category = Literal["detractor", "passive", "promoter"]
Comment = tuple[str, tuple[str, ...]]
#: Feedback by language and category, with the tags the team gives it.
COMMENTS: dict[str, dict[Category, tuple[Comment, ...]]] = {
    "en": {
        "detractor": (
            ("The price increase hit us hard. For a five-person team the new tiers are "
             "too expensive.", ("pricing",)),
            ("We pay more for the same features since the pricing change. Looking at "
             "alternatives.", ("pricing",)),
            ("SSO only on Enterprise is a dealbreaker for our IT team.", ("pricing",)),
            ("Exports keep timing out on large reports. Very frustrating.", ("bug",)),
            ("Dashboards take ages to load since the last update.", ("bug",)),
            ("The mobile app crashes whenever I open a report.", ("bug",)),
            ("Support took four days to answer a simple billing question.", ("support",)),
            ("I was charged twice this month and nobody has replied yet.", ("support",)),
            ("The Slack integration stopped posting and support could not tell us why.",
             ("bug", "support")),
            ("Setup was confusing: it took us weeks to get the Segment data right.",
             ("onboarding",)),
            ("Hard to get started without a proper onboarding guide.", ("onboarding",)),
            ("Too many clicks for simple things.", ()),
            ("Not what we expected.", ()),
        ),
        "passive": (
            ("Good product, a bit pricey for what we use.", ("pricing",)),
            ("Fine for now, but the new pricing is hard to justify for a small team.",
             ("pricing",)),
            ("Does the job. Reporting could be more flexible.", ()),
            ("Solid overall. The CSV export is clunky.", ("bug",)),
            ("Works well most of the time, with the occasional sync delay.", ("bug",)),
            ("Onboarding was OK; the docs could use more examples.", ("onboarding",)),
            ("Support was helpful, if a bit slow.", ("support",)),
            ("We like it. A proper API for custom fields would make it great.", ()),
            ("Nice interface. I wish segments could be shared between teams.", ()),
            ("OK", ()),
        ),
        "promoter": (
            ("Love it! Our whole team uses it every day.", ("praise",)),
            ("Support is amazing: Priya fixed our issue within the hour.",
             ("praise", "support")),
            ("Setup took ten minutes. The best onboarding I have seen.",
             ("praise", "onboarding")),
            ("The automations save us hours every week.", ("praise",)),
            ("Great value for the money.", ("praise", "pricing")),
            ("The reports are exactly what our board wants to see.", ("praise",)),
            ("Rock solid, never had an outage.", ("praise",)),
            ("The new dashboards are a big step up. Keep it coming!", ("praise",)),
            ("Easy to use, and the API is well documented.", ("praise",)),
            ("Great product", ()),
            ("👍 Keep up the good work", ("praise",)),
        ),
    },
    "de": {
        "detractor": (
            ("Die neuen Preise sind für kleine Teams viel zu hoch.", ("pricing",)),
            ("Der Export bricht bei großen Berichten immer wieder ab.", ("bug",)),
        ),
        "passive": (
            ("Gutes Produkt, aber der Support antwortet langsam.", ("support",)),
            ("Ganz ordentlich, die Einrichtung war etwas mühsam.", ("onboarding",)),
        ),
        "promoter": (
            ("Super Tool, unser ganzes Team arbeitet täglich damit!", ("praise",)),
            ("In wenigen Minuten eingerichtet. Sehr empfehlenswert.",
             ("praise", "onboarding")),
        ),
    },
    "fr": {
        "detractor": (
            ("Beaucoup trop cher depuis le changement de tarifs.", ("pricing",)),
            ("L'application est lente depuis la dernière mise à jour.", ("bug",)),
        ),
        "passive": (("Bon outil, mais la documentation manque d'exemples.", ("onboarding",)),),
        "promoter": (
            ("Excellent produit, et le support est très réactif.", ("praise", "support")),
        ),
    },
    "es": {
        "detractor": (("El precio subió demasiado para lo que ofrece.", ("pricing",)),),
        "passive": (("Funciona bien, aunque los informes podrían ser más flexibles.", ()),),
        "promoter": (("¡Nos encanta! Muy fácil de usar.", ("praise",)),),
    },
    "pt": {
        "detractor": (("O suporte demorou muito para responder.", ("support",)),),
        "passive": (("Bom produto, mas o preço aumentou bastante.", ("pricing",)),),
        "promoter": (("Ferramenta excelente, recomendo a todos.", ("praise",)),),
    },
    "ja": {
        "detractor": (("レポートの読み込みがとても遅いです。", ("bug",)),),
        "passive": (("便利ですが、料金が少し高いと思います。", ("pricing",)),),
        "promoter": (("使いやすくて、チーム全員が毎日使っています。", ("praise",)),),
    },
}  # fmt: skip
