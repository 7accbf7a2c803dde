"""Each chapter's presentation, beside the chapter: its tables, sentences, verdict wording and
figures. ``chNN`` belongs to chapter NN and is imported by that chapter alone (and by the tests
of its functions); the science the chapters share lives in ``hhlib``."""
