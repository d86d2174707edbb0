"""The synthetic mini corpus (scripts/build_mini_corpus.py), one concept a module; no TensorFlow here.

text (fortunes sentences -> transcripts), speakers (the espeak-ng voice/variant table and the speaker grid),
voices (timbres and recording conditions), tools and espeak (the external programs), synthesis (utterances
-> FLAC, WORLD workers), layout (the LibriSpeech folders, transcripts and tables), build (the plan, settings
check, resume and command line); errors holds CorpusError.
"""
