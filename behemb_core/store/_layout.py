"""Names of the lifecycle's files in a store (see :mod:`behemb_core.store.lifecycle` for what each holds)."""

POINTER_FILE = "published.json"
AUDIT_FILE = "audit.log"
LIFECYCLE_DIR = "lifecycle"
INDEX_DIR = "indexes"
RECOVERED_DIR = "recovered"  # what recovery set aside: torn log tails, replaced pointers, orphan records
RECORD_SUFFIX = "-approved.json"
DRAFT = "draft"
ANN_DIR = "ann"  # ANN indexes built from a version: ann/<version>/<build>/{index.faiss, index.json}
