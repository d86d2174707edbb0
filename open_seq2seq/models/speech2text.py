"""Speech recognition model: WER evaluation, sample printing and transcript output."""
import numpy as np

from open_seq2seq.data.speech2text.logits_file import write_logits
from open_seq2seq.data.speech2text.predictions import write_predictions
from open_seq2seq.decoders.greedy_ctc import ids_to_text, sparse_to_strings
from open_seq2seq.encoders.tdnn_encoder import time_stride
from open_seq2seq.utils.logging import deco_print
from open_seq2seq.utils.metrics import error_counts, word_errors
from .encoder_decoder import EncoderDecoderModel


def check_prediction_rows(ids, wav_filenames, data_params):
  """Checks that the manifest positions ``ids`` (gathered from every worker) cover the manifest rows
  ``wav_filenames`` once each. Rows left without a prediction are printed (count and names) when a data-layer
  setting drops rows on purpose (skip_bad_data, max_duration, min_duration, max_feature_length; the data
  layer reports why); otherwise, and for a row predicted twice, raises ValueError naming the manifests."""
  manifests = ", ".join(data_params["dataset_files"])
  predicted = set(ids)
  if len(predicted) != len(ids):
    raise ValueError("Inference over {} predicted {} rows more than once (internal error)".format(
        manifests, len(ids) - len(predicted)))
  missing = [name for position, name in enumerate(wav_filenames) if position not in predicted]
  if not missing:
    return
  listed = ", ".join(missing[:10]) + (", ..." if len(missing) > 10 else "")
  summary = "{} of {} rows of {} have no prediction: {}".format(len(missing), len(wav_filenames), manifests, listed)
  dropping = ["{}={}".format(key, data_params[key]) for key in ("skip_bad_data", "max_duration", "min_duration",
                                                              "max_feature_length")
              if data_params.get(key) and data_params[key] > 0]
  if not dropping:
    raise ValueError("Inference lost rows: " + summary + " (no data-layer setting drops rows)")
  deco_print("Inference writes {} rows; {} (dropped by {}, see above)".format(
      len(predicted), summary, ", ".join(dropping)))


class Speech2Text(EncoderDecoderModel):
  """Encoder-decoder speech-to-text model (OpenSeq2Seq's Speech2Text): character transcripts scored by WER."""

  def _create_decoder(self):
    self._params["decoder_params"]["tgt_vocab_size"] = self.get_data_layer().params["tgt_vocab_size"]
    return super()._create_decoder()

  @property
  def idx2char(self):
    """The data layer's id -> character mapping."""
    return self.get_data_layer().params["idx2char"]

  def decode_batch(self, outputs, batch_size):
    """The transcripts of the decoded sparse ``outputs[0]`` of ``batch_size`` utterances."""
    return sparse_to_strings(outputs[0], self.idx2char, batch_size)

  def references(self, input_values):
    """The reference transcripts of the batch's labels, cut to their lengths."""
    labels, lengths = input_values["target_tensors"]
    return [ids_to_text([int(c) for c in labels[i][:lengths[i]]], self.idx2char) for i in range(len(lengths))]

  def evaluate(self, input_values, output_values):
    """Per-batch ``(word edits, reference words, references, hypotheses)``."""
    references = self.references(input_values)
    hypotheses = self.decode_batch(output_values, len(references))
    edits, words = error_counts(references, hypotheses)
    return edits, words, references, hypotheses

  def finalize_evaluation(self, results_per_batch):
    """Prints and returns the corpus WER (``Eval WER``, word edits, reference words) of the per-batch results;
    raises ValueError when the references hold no words."""
    edits = sum(r[0] for r in results_per_batch)
    words = sum(r[1] for r in results_per_batch)
    if not words:
      raise ValueError("The references of {} hold no words ({} utterances evaluated): WER is undefined; expected "
                       "transcripts with words".format(", ".join(self.get_data_layer().params["dataset_files"]),
                                                       sum(len(r[2]) for r in results_per_batch)))
    wer = edits / words
    deco_print("Validation WER:  {:.4f}".format(wer), offset=4)
    return {"Eval WER": wer, "word_edits": edits, "reference_words": words}

  def maybe_print_logs(self, input_values, output_values):
    """Prints the first utterance's reference, prediction and WER; returns ``{"Sample WER": wer}``."""
    references = self.references(input_values)
    hypothesis = self.decode_batch(output_values, len(references))[0]
    edits, words = word_errors(references[0], hypothesis)
    sample_wer = edits / words if words else 0.0
    deco_print("Sample WER: {:.4f}".format(sample_wer), offset=4)
    deco_print("Sample target:     " + references[0], offset=4)
    deco_print("Sample prediction: " + hypothesis, offset=4)
    return {"Sample WER": sample_wer}

  @property
  def logits_to_pickle(self):
    """True when the decoder outputs logits instead of transcripts in infer mode."""
    return self.decoder.params["infer_logits_to_pickle"]

  def infer(self, input_values, output_values):
    """Per-batch ``(transcripts or, with infer_logits_to_pickle, [T', V+1] logits per utterance cut to its
    valid frames, ids)``."""
    ids = input_values["source_ids"][0]
    if self.logits_to_pickle:
      logits, lengths = output_values
      return [utterance[:length] for utterance, length in zip(logits, lengths)], ids
    return self.decode_batch(output_values, len(ids)), ids

  def finalize_inference(self, results_per_batch, output_file):
    """Writes the predictions CSV (data/speech2text/predictions.py) in manifest order, atomically; with
    ``infer_logits_to_pickle`` the ``[T', V+1]`` logits per utterance, the seconds per logit frame and the
    vocabulary instead, as a logits ``.npz`` file (data/speech2text/logits_file.py; the key keeps the reference's
    name, the file is no pickle so that reading it cannot run code)."""
    outputs, ids = [], []
    for batch_outputs, batch_ids in results_per_batch:
      outputs.extend(batch_outputs)
      ids.extend(int(i) for i in batch_ids)
    wav_filenames = self.get_data_layer().wav_filenames
    check_prediction_rows(ids, wav_filenames, self.get_data_layer().params)
    order = np.argsort(ids, kind="stable")
    names = [wav_filenames[ids[position]] for position in order]
    outputs = [outputs[position] for position in order]
    if self.logits_to_pickle:
      step_size = self.get_data_layer().params["window_stride"] * time_stride(
          self._params["encoder_params"]["convnet_layers"])
      write_logits(output_file, names, outputs, step_size, [self.idx2char[i] for i in range(len(self.idx2char))])
    else:
      write_predictions(output_file, names, outputs)
    deco_print("Finished inference")
