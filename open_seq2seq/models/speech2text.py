"""Speech recognition model: WER evaluation, sample printing and transcript output."""
import csv

import numpy as np

from open_seq2seq.decoders.logits_file import write_logits
from open_seq2seq.utils.atomic import atomic_output
from open_seq2seq.utils.logging import deco_print
from open_seq2seq.utils.metrics import word_errors
from .encoder_decoder import EncoderDecoderModel


def sparse_to_strings(sparse_value, idx2char, batch_size):
  """Greedy decoder output (SparseTensorValue) -> one string per batch row."""
  chars = [[] for _ in range(batch_size)]
  for (row, _), value in zip(sparse_value.indices, sparse_value.values):
    chars[row].append(idx2char.get(int(value), ""))
  return ["".join(c) for c in chars]


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

  def _create_decoder(self):
    self._params.setdefault("decoder_params", {})
    self._params["decoder_params"]["tgt_vocab_size"] = self.get_data_layer().params["tgt_vocab_size"]
    return super()._create_decoder()

  @property
  def idx2char(self):
    return self.get_data_layer().params["idx2char"]

  def decode_batch(self, outputs, batch_size):
    return sparse_to_strings(outputs[0], self.idx2char, batch_size)

  def references(self, input_values):
    labels, lengths = input_values["target_tensors"]
    return ["".join(self.idx2char[int(c)] for c in labels[i][:lengths[i]]) for i in range(len(lengths))]

  def evaluate(self, input_values, output_values):
    """Per-batch ``(word edits, reference words, references, hypotheses)``."""
    references = self.references(input_values)
    hypotheses = self.decode_batch(output_values, len(references))
    edits = words = 0
    for reference, hypothesis in zip(references, hypotheses):
      e, w = word_errors(reference, hypothesis)
      edits += e
      words += w
    return edits, words, references, hypotheses

  def finalize_evaluation(self, results_per_batch):
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
    return self._params.get("decoder_params", {}).get("infer_logits_to_pickle", False)

  def infer(self, input_values, output_values):
    """Per-batch ``(transcripts or, with infer_logits_to_pickle, [T', V+1] logits per utterance cut to its
    valid frames, ids)``."""
    ids = input_values["source_ids"][0]
    if self.logits_to_pickle:
      logits, lengths = output_values
      return [utterance[:length] for utterance, length in zip(logits, lengths)], ids
    return self.decode_batch(output_values, len(ids)), ids

  def finalize_inference(self, results_per_batch, output_file):
    """Writes ``wav_filename,predicted_transcript`` in manifest order, atomically; with
    ``infer_logits_to_pickle`` the ``[T', V+1]`` logits per utterance, the seconds per logit frame and the
    vocabulary instead, as a logits ``.npz`` file (decoders/logits_file.py; the key keeps the reference's name,
    the file is no pickle so that reading it cannot run code)."""
    outputs, ids = [], []
    for batch_outputs, batch_ids in results_per_batch:
      outputs.extend(batch_outputs)
      ids.extend(int(i) for i in batch_ids)
    wav_filenames = self.get_data_layer().wav_filenames
    check_prediction_rows(ids, wav_filenames, self.get_data_layer().params)
    order = np.argsort(ids, kind="stable")
    if self.logits_to_pickle:
      strides = [layer["stride"][0] for layer in self._params["encoder_params"]["convnet_layers"]]
      step_size = self.get_data_layer().params["window_stride"] * int(np.prod(strides))
      write_logits(output_file, [wav_filenames[ids[position]] for position in order],
                   [outputs[position] for position in order], step_size,
                   [self.idx2char[i] for i in range(len(self.idx2char))])
    else:
      with atomic_output(output_file) as tmp_file, open(tmp_file, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["wav_filename", "predicted_transcript"])
        for position in order:
          writer.writerow([wav_filenames[ids[position]], outputs[position]])
    deco_print("Finished inference")
