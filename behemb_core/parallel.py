"""One lock for launching behemb's parallel numba kernels.

Each launch already uses every numba thread, so running two at once gains nothing; and numba's ``workqueue``
threading layer (its fallback when neither OpenMP nor TBB is available) aborts the process on concurrent
launches — e.g. two app sessions training, or one training while another looks up neighbors. Every
``parallel=True`` kernel in behemb is launched under this lock.
"""

from __future__ import annotations

import threading

KERNEL_LOCK = threading.RLock()
