"""The names of the sign-off checklist, in the order :func:`behemb_core.signoff.signoff_checks` runs them (a test
keeps the two equal). Under a policy ``verify`` reports an approval that does not record all of them — a caller
that chose its checks. When ``vectors valid`` fails nothing else can be judged, so the list ends there."""

SIGNOFF_CHECK_NAMES = ("files intact", "vectors valid", "unique ids", "quality vs item-kNN", "no popularity collapse",
                       "same catalogue as published", "stability vs published", "golden pairs")
