"""Names of the fields Orchestray adds to registry entries (other tools ignore them).

A module of its own, with no imports, so the prompt hook can read them without loading the core.
"""

PROMOTION_PENDING = "promotionPending"  # set by promote, cleared when the session has been told
PROMOTED_AT = "promotedAt"
VACATED_AT = "vacatedAt"
