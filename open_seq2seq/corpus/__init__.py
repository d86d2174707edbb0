"""Corpora in the LibriSpeech layout, one concept a module; no TensorFlow here.

The synthetic mini corpus (scripts/build_mini_corpus.py): text (fortunes sentences -> transcripts), speakers
(the espeak-ng voice/variant table and the speaker grid), voices (timbres and recording conditions), tools and
espeak (the external programs), synthesis (utterances -> FLAC, WORLD workers), layout (the LibriSpeech folders,
transcripts and tables), build (the plan, settings check, resume and command line).
The importer of any LibriSpeech-layout corpus, real or synthetic, into manifests (scripts/import_librivox.py):
librispeech_audit (transcript lines paired with FLAC files), flac_to_wav (audio checks and conversion),
librivox_import (the splits, the CSV manifests and command line). errors holds CorpusError and
LibrivoxImportError.
"""
