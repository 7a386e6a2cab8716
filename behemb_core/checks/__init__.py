"""The sign-off checks, one function each: ``check_x(context) -> CheckResult``.

:data:`behemb_core.signoff.SIGNOFF_CHECKS` is the checklist — a tuple of these functions, read when the checks
run — and :func:`behemb_core.signoff.signoff_checks` runs it. A check reads what it judges from its
:class:`~behemb_core.checks.context.CheckContext` (the version, the published version, their exact top-k
neighbor lists, the golden pairs, the policy), which computes each of them once per run; the results of a whole
run are cached on what they depend on (:mod:`behemb_core.checks.cache`).

Modules: ``context`` (the policy and the context), ``integrity`` (files, vectors, ids), ``quality`` (item-kNN,
popularity collapse), ``published`` (same catalogue, stability, what publishing changes), ``golden`` (golden
pairs judged against a version), ``wording`` (a check as people read it), ``cache``.
"""
