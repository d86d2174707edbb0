"""Train-time augmentation of the speech data layer, configured by its ``augmentation`` dict (keys, defaults
and docs in ``params.KEYS``; docs/augmentation.md).

Signal chain (``chain.SignalAugmenter``), in this order, on the peak-normalised float signal: speed
perturbation -> room reverberation (``room_impulse``) -> coloured noise and babble at a random SNR, absolute-level
noise (``noise``) -> telephone band (``channel``), speech codec (``codec``), Butterworth filters, peaking EQ
(``channel``) -> gain. Then the features,
with a vocal-tract-length-perturbed mel filterbank (``features.speech_features(vtlp_alpha=...)``), and
SpecAugment masks on them (``masks``).

Randomness: every draw comes from the numpy Generator the data layer seeds per utterance
(``default_rng([seed, random_seed])``), passed down explicitly. tf.data runs the parsing function in parallel
threads, so global random state (Python's ``random``, ``np.random.*``) would make the output depend on thread
scheduling and break "same seed, same features"; that is why the transforms are written here on Generator
draws instead of taken from audiomentations, whose transforms draw from the global ``random``/``np.random``.
Nothing here keeps state across utterances except caches of deterministic values: the room bank (built once
under a lock) and lru_caches of filter designs and warped mel filterbanks.
"""
from .chain import SignalAugmenter, perturb_signal
from .masks import spec_augment
from .params import KEYS, alters_signal, describe_augmentation, setting, validate_augmentation

__all__ = ["KEYS", "SignalAugmenter", "alters_signal", "describe_augmentation", "perturb_signal",
           "setting", "spec_augment", "validate_augmentation"]
