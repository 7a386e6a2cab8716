"""App-only helpers for the Streamlit front end (the library ``behemb_core`` never imports this package).

* :mod:`.keys` — session-state keys and their defaults (handles only: paths, fingerprints, version names);
* :mod:`.errors` — turn :class:`~behemb_core.errors.BehembError` into ``st.error`` (never a traceback);
* :mod:`.data_io` — uploads → files on disk → the library readers (no Streamlit; tests call it directly);
* :mod:`.loaders` — ``st.cache_*`` wrappers around the library's loaders, keyed by handles;
* :mod:`.forms` — widgets generated from a pydantic config class (bounds, Literal choices, descriptions);
* :mod:`.views` — small pure table builders for display (no metrics, no training, no store logic).
"""
