"""Follow-up pages, one module per family: field (the worker's phone and the evening entry),
keypersons (lists, record, actions), clinic (referrals, facilities), counts (figures, lists,
exports), selfcheck (the person's no-login link)."""
