"""Building blocks of the synthetic mini corpus (scripts/build_mini_corpus.py); no TensorFlow here."""
