"""Exporting a comparison's trained model for use without peftbench (``runners.export`` parses and prints): choose
the seed run, rebuild it from the run directory, write it as a peft adapter folder, a merged transformers folder or
the trainable tensors, with our head, tokenizer and a README whose code predicts with them, and check before
anything is written that those files give the same predictions as peftbench's model on probe inputs."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

from peftbench.errors import UserError
from peftbench.inference import TOLERANCE  # |Δlogit| float rounding explains: the exported files must be within it
from peftbench.layout import ComparisonDir, check_directory_target, staged_directory
from peftbench.models import FOUR_BIT_REPACK_FLAG, keep_training_layout
from peftbench.records import ComparisonRecord, RunResult
from peftbench.schema import load_results

PROBES = [
    "a great film", "boring and long , really", "i loved it so much that i saw it twice",
    "the worst film this year", "wonderful and moving", "not funny at all , a chore to sit through",
]
PROBE_PAIRS = ["it was good", "it was bad", "it was good", "it was bad", "it was good", "it was bad"]

# The code README.md and the command print: the head applied by hand. ``logits`` is run on the exported
# files before they are written (``check``), so this text is tested with every export.
PREDICT = '''\
def logits(texts, pairs=None):
    batch = tokenizer(texts, pairs, padding=True, truncation=True, max_length=head["max_length"],
                      return_tensors="pt")
    mask = batch["attention_mask"]
    if head["causal"]:  # a decoder: positions count real tokens only
        batch["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        hidden = encoder(**batch).last_hidden_state
    if head["pooling"] == "mean":  # mean over real tokens
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
    elif head["pooling"] == "cls":  # the first token
        pooled = hidden[:, 0]
    else:  # "last": the last real token
        pooled = hidden[torch.arange(len(hidden)), (mask * torch.arange(mask.shape[1])).argmax(-1)]
    return pooled.float() @ weights["classifier.weight"].T + weights["classifier.bias"]


def predict(texts, pairs=None):
    scores = logits(texts, pairs)
    if head["num_labels"] == 1:  # regression
        return scores[:, 0].tolist()
    names = head["label_names"] or list(range(head["num_labels"]))
    return [names[i] for i in scores.argmax(-1).tolist()]
'''
LOAD = '''\
import json
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer{imports}

out = {out!r}
head = json.load(open(f"{{out}}/head.json"))
weights = load_file(f"{{out}}/head.safetensors")
{load}
'''
LOAD_MERGED = '''\
tokenizer = AutoTokenizer.from_pretrained(f"{out}/model")
encoder = AutoModel.from_pretrained(f"{out}/model").eval()'''
LOAD_ADAPTER = '''\
tokenizer = AutoTokenizer.from_pretrained(f"{out}/tokenizer")
base = AutoModel.from_pretrained(head["base_model_path"])  # the model the comparison fine-tuned
encoder = PeftModel.from_pretrained(base, f"{out}/adapter").eval()'''
LOAD_ADAPTER_QUANTISED = f'''\
tokenizer = AutoTokenizer.from_pretrained(f"{{out}}/tokenizer")
quantised = BitsAndBytesConfig.from_dict(head["quantization"])  # load the base 4-bit, as it was trained
base = AutoModel.from_pretrained(head["base_model_path"], quantization_config=quantised)
for layer in base.modules():  # compute as trained: bitsandbytes would repack 4-bit weights for bf16 on some CPUs
    if hasattr(layer, "{FOUR_BIT_REPACK_FLAG}"):
        layer.{FOUR_BIT_REPACK_FLAG} = False
encoder = PeftModel.from_pretrained(base, f"{{out}}/adapter").eval()'''


def loading_code(out: Path, kind: str, quantised: bool = False) -> str:
    """The snippet's first half: load the exported files (``kind``: merged or adapter)."""
    if kind == "merged":
        return LOAD.format(imports="", out=str(out), load=LOAD_MERGED)
    imports = "\nfrom peft import PeftModel" + ("\nfrom transformers import BitsAndBytesConfig" if quantised else "")
    return LOAD.format(imports=imports, out=str(out), load=LOAD_ADAPTER_QUANTISED if quantised else LOAD_ADAPTER)


SEQUENCE_CLASSIFICATION = '''\
from transformers import pipeline

classify = pipeline("text-classification", model={path!r})  # or AutoModelForSequenceClassification
print(classify(["a great film", "a dull mess"]))
'''
PEFTBENCH_LOAD = '''\
from strategies import load_trained  # in a peftbench checkout

model, tokenizer, config = load_trained({out!r})  # SequenceClassifier: model(**tokenizer(...)) gives logits
'''


# ---------------------------------------------------------------------------- choosing the run
def choose_run(results: ComparisonRecord, strategy: str, seed: int | None) -> tuple[RunResult, str]:
    """The seed run to export and why it was chosen."""
    run_dir = results.directory
    if strategy not in results.strategies:
        raise UserError(f"{run_dir} has no strategy {strategy!r}; it compared {', '.join(results.strategies) or 'none'}")
    record = results.strategies[strategy]
    runs = record.seed_runs
    if not runs:
        left = (next((look.reason for look in results.race.departures() if look.strategy == strategy), None)
                if results.race is not None else None)
        raise UserError(f"strategy {strategy} has no finished seed run in {run_dir} (status: {record.status}); "
                        + (f"it left the race: {left}" if left else "finish the comparison first"))
    if seed is not None:
        chosen = next((run for run in runs if run.seed == seed), None)
        if chosen is None:
            raise UserError(f"seed {seed} of {strategy} was not run in {run_dir}; its seed runs are "
                            f"{', '.join(str(run.seed) for run in sorted(runs, key=lambda run: run.seed))}")
        return chosen, "as asked"
    metric = results.task.metric
    chosen = max(runs, key=lambda run: (run.score("dev") if run.score("dev") is not None else -math.inf, -run.seed))
    score = chosen.score("dev")
    why = f"best dev {metric} {score:.4f}" if score is not None else "no dev score: the lowest seed"
    return chosen, f"{why} of {len(runs)} seed run{'s' * (len(runs) > 1)}"


def weights_folder(run_dir: Path, strategy: str, run: RunResult) -> Path:
    """Where the seed run's trained weights are: its folder in the comparison (peftbench.layout), else its artifact_path."""
    from peftbench.artifacts import CONFIG_FILE, WEIGHTS_FILE

    here = ComparisonDir(run_dir).seed_dir(strategy, run.seed)
    candidates = [here] + ([Path(run.artifact_path).parent] if run.artifact_path else [])
    for folder in candidates:
        if (folder / WEIGHTS_FILE).is_file() and (folder / CONFIG_FILE).is_file():
            return folder
    raise UserError(f"the trained weights of {strategy} seed {run.seed} are not in {here} (a comparison from "
                    f"before seed runs were saved, or run on another machine); train it with python -m runners.train")


def check_out(out: Path) -> None:
    check_directory_target(out)
    if out.is_dir() and any(out.iterdir()):
        raise UserError(f"--out {out} already exists and is not an empty directory; choose another")


# ---------------------------------------------------------------------------- exporting
def label_names(saved) -> list[str] | None:
    """The task's label names (GLUE's are known; a custom task's are read from its files when they are here)."""
    from peftbench.task_types import GLUE_TASKS
    from peftbench.tasks import load_task

    if saved.config.task in GLUE_TASKS:
        return list(GLUE_TASKS[saved.config.task].label_names) or None
    try:
        return list(load_task(saved.config.task_request()).spec.label_names) or None
    except (UserError, OSError, ValueError):
        return None


def probe_batch(tokenizer, head: dict[str, Any]) -> tuple[list[str], list[str] | None]:
    pairs = PROBE_PAIRS if head.get("text_columns") and len(head["text_columns"]) == 2 else None
    return PROBES, pairs


def reference_logits(model, tokenizer, head: dict[str, Any]):
    """peftbench's own predictions on the probes (inputs built as peftbench.data builds them: right padding)."""
    import torch

    texts, pairs = probe_batch(tokenizer, head)
    batch = tokenizer(texts, pairs, padding=True, truncation=True, max_length=head["max_length"], return_tensors="pt")
    inputs = {key: value for key, value in batch.items() if key in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        return model(**inputs).float()


def snippet_logits(encoder, tokenizer, head: dict[str, Any], weights: dict):
    """The README snippet's ``logits`` on the probes, with these objects."""
    import torch

    namespace = {"torch": torch, "encoder": encoder.eval(), "tokenizer": tokenizer, "head": head, "weights": weights}
    exec(PREDICT, namespace)  # noqa: S102 — our own snippet, run to test the text users copy
    texts, pairs = probe_batch(tokenizer, head)
    return namespace["logits"](texts, pairs)


def difference(got, expected) -> float:
    if got.shape != expected.shape:
        return math.inf
    return float((got - expected).abs().max())


def check(what: str, got, expected) -> float:
    gap = difference(got, expected)
    if not gap <= TOLERANCE:
        raise RuntimeError(f"export check failed: {what} differs from peftbench's model by {gap:g} "
                           f"(more than {TOLERANCE:g}); nothing was written")
    return gap


def foreign_modules(encoder) -> list[str]:
    """Classes in the encoder that a plain transformers model does not have (e.g. our bottleneck adapters)."""
    return sorted({f"{type(m).__module__}.{type(m).__qualname__}" for m in encoder.modules()
                   if not type(m).__module__.startswith(("torch.", "transformers."))})


def merged_encoder(model, saved):
    """The encoder as a plain transformers model: adapters merged in; one line why not where it cannot be."""
    from peftbench import artifacts

    encoder = model.encoder
    quantization = artifacts.quantization_of(encoder)
    if quantization is not None:
        raise UserError(f"--merge: {saved.strategy}'s encoder is quantised ({quantization.get('quant_method', '4-bit')}), "
                        f"and merging into it would re-quantise the weights and change its predictions; export "
                        f"without --merge (the adapter loads on the base quantised as head.json says)")
    if artifacts.is_peft_encoder(encoder):
        try:
            encoder = encoder.merge_and_unload()
        except Exception as error:  # noqa: BLE001 — peft's reasons vary by method; the user gets its first line
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserError(f"--merge: peft cannot merge {saved.strategy}'s adapter ({first}); export without --merge") from None
    from transformers import PreTrainedModel

    foreign = foreign_modules(encoder)
    if foreign or not isinstance(encoder, PreTrainedModel):
        inner = model.encoder.get_base_model() if hasattr(model.encoder, "get_base_model") else model.encoder
        base = type(inner).__name__
        raise UserError(f"--merge: strategy {saved.strategy} adds modules outside peft ({', '.join(foreign)}) that a "
                        f"plain transformers {base} does not have, so it cannot be saved as one; export it without --merge")
    if hasattr(encoder, "pooler") and encoder.pooler is None:
        # peftbench.models drops the (unused) pooler; put the pretrained one back so the folder is a complete model
        from transformers import AutoModel

        from peftbench.models import resolve_model

        encoder.pooler = AutoModel.from_pretrained(resolve_model(saved.config.model), use_safetensors=True).pooler
    return encoder


def write_sequence_classification(model_dir: Path, target: Path, head: dict[str, Any], weights: dict,
                                  tokenizer) -> str | None:
    """``AutoModelForSequenceClassification`` folder computing exactly our head, or why there is none.

    Only pooling "last" on a decoder matches such a head (transformers' decoder heads score the last
    non-pad token); BERT-style heads pool with their own dense + tanh pooler (ModernBERT, DistilBERT,
    RoBERTa, ELECTRA: another dense layer first), which no mean/cls head of ours computes. Decoder heads
    have no bias: ours is carried by the final norm's bias (β' = β + W⁺b, so W·h' = W·h + b)."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING

    from peftbench.architecture import find_architecture

    if not (head["causal"] and head["pooling"] == "last"):
        return (f"{head['pooling']} pooling on {'a decoder' if head['causal'] else 'an encoder'}: no transformers "
                f"sequence-classification head computes it (BERT's pools the first token through a dense + tanh pooler)")
    config = AutoConfig.from_pretrained(model_dir)
    if type(config) not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING:
        return f"transformers has no sequence-classification class for {config.model_type}"
    if tokenizer.pad_token_id is None:
        return "the tokenizer has no pad token"
    names = head["label_names"] or [f"LABEL_{i}" for i in range(head["num_labels"])]
    labels = {} if head["num_labels"] == 1 else {"id2label": dict(enumerate(names)),
                                                  "label2id": {name: i for i, name in enumerate(names)}}
    classifier = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=head["num_labels"], problem_type=head["problem_type"],
        pad_token_id=tokenizer.pad_token_id, **labels)
    base = classifier.base_model
    scores = [(name, module) for name, module in classifier.named_children() if module is not base]
    if len(scores) != 1 or not isinstance(scores[0][1], torch.nn.Linear):
        return f"{type(classifier).__name__}'s head is not one linear layer"
    score = scores[0][1]
    weight, bias = weights["classifier.weight"].double(), weights["classifier.bias"].double()
    with torch.no_grad():
        score.weight.copy_(weight)
        if score.bias is not None:
            score.bias.copy_(bias)
        elif bias.abs().max() > 0:
            norm_bias = [name for name in find_architecture(base).top if name.endswith("bias")]
            if len(norm_bias) != 1:
                return (f"{type(classifier).__name__}'s score layer has no bias, and its final norm has none to carry "
                        f"the head's")
            shift = torch.linalg.pinv(weight) @ bias
            if not torch.allclose(weight @ shift, bias, atol=1e-6):
                return "the head's bias cannot be carried by the final norm (its weight rows are dependent)"
            parameter = base.get_parameter(norm_bias[0])
            parameter.copy_((parameter.double() + shift).to(parameter.dtype))
    classifier.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return None


def sequence_classification_logits(folder: Path, head: dict[str, Any]):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    classifier = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    texts, pairs = probe_batch(tokenizer, head)
    batch = tokenizer(texts, pairs, padding=True, truncation=True, max_length=head["max_length"], return_tensors="pt")
    with torch.no_grad():
        return classifier(**batch).logits.float()


def export(run_dir: Path, strategy: str, seed: int | None, out: Path, merge: bool) -> dict[str, Any]:
    """Write the export to ``out`` (through a staging folder, so a failure leaves nothing); return a summary."""
    results = load_results(run_dir)
    run, why = choose_run(results, strategy, seed)
    folder = weights_folder(run_dir, strategy, run)
    check_out(out)

    from peftbench import artifacts
    from peftbench.build import build_model
    from strategies import get_strategy

    saved = artifacts.read_saved_run(str(folder))
    if saved.strategy != strategy or saved.config.seed != run.seed:
        raise UserError(f"{folder} holds {saved.strategy} seed {saved.config.seed}, not {strategy} seed {run.seed}")
    method = get_strategy(saved.strategy, saved.strategy_params)
    model, tokenizer = artifacts.rebuild(saved, method)
    tokenizer.padding_side = "right"  # as peftbench.data pads; transformers' decoder heads assume it too
    head = artifacts.head_record(model, saved.config, saved.strategy, saved.num_labels, label_names(saved))
    weights = artifacts.head_tensors(model)
    expected = reference_logits(model, tokenizer, head)
    peft = artifacts.is_peft_encoder(model.encoder)
    if merge:
        encoder = merged_encoder(model, saved)  # refusals happen here, before anything is written

    summary: dict[str, Any] = {"strategy": strategy, "seed": run.seed, "why": why, "out": out, "from": folder,
                               "files": [], "notes": [], "gaps": {}}
    with staged_directory(out) as staging:  # out (absent or empty: check_out) appears whole, or not at all
        artifacts.write_head_files(staging, head, weights)
        labels = f" ({', '.join(head['label_names'])})" if head["label_names"] else ""
        summary["files"].append(("head.safetensors, head.json", f"the head: {head['pooling']} pooling, "
                                 f"{head['num_labels']} output{'s' * (head['num_labels'] > 1)}{labels}"))
        if merge:
            write_merged(staging, out, encoder, tokenizer, head, weights, expected, summary)
        elif peft:
            write_peft_adapter(staging, out, folder, model, tokenizer, head, weights, expected, summary,
                               method.base_weights, initial_model=lambda: build_model(saved.config, method,
                                                                                      saved.num_labels, saved.total_steps))
        else:
            write_trainable(staging, out, folder, model, tokenizer, summary)
        (staging / "README.md").write_text(readme(summary, head), encoding="utf-8")
    return summary


def write_merged(staging: Path, out: Path, encoder, tokenizer, head, weights, expected, summary) -> None:
    """``model/`` (a plain AutoModel folder) and, where a transformers head computes ours, ``sequence-classification/``."""
    from transformers import AutoModel, AutoTokenizer

    encoder.save_pretrained(staging / "model")
    tokenizer.save_pretrained(staging / "model")
    summary["gaps"]["model/ + head"] = check("the merged model/ with the head", snippet_logits(
        AutoModel.from_pretrained(staging / "model"), AutoTokenizer.from_pretrained(staging / "model"), head, weights),
        expected)
    summary["files"].insert(0, ("model/", "the merged encoder and tokenizer: transformers.AutoModel.from_pretrained"))
    summary["code"] = loading_code(out, "merged") + "\n\n" + PREDICT
    target = staging / "sequence-classification"
    reason = write_sequence_classification(staging / "model", target, head, weights, tokenizer)
    if reason is None:
        gap = difference(sequence_classification_logits(target, head), expected)
        if gap <= TOLERANCE:
            summary["gaps"]["sequence-classification/"] = gap
            summary["files"].insert(1, ("sequence-classification/", "the same model with the head built in: "
                                        "AutoModelForSequenceClassification.from_pretrained"))
            summary["code_classification"] = SEQUENCE_CLASSIFICATION.format(path=str(out / target.name))
        else:
            shutil.rmtree(target)
            reason = f"its predictions differ from peftbench's by {gap:g}"
    if reason is not None:
        summary["notes"].append(f"no sequence-classification/ folder: {reason}")


def write_peft_adapter(staging: Path, out: Path, folder: Path, model, tokenizer, head, weights, expected, summary,
                       base_weights: str, initial_model) -> None:
    """``adapter/`` (the seed run's, or written now for a run saved before runs wrote one) and ``tokenizer/``."""
    from transformers import AutoTokenizer

    from peftbench import artifacts

    source = folder / artifacts.ADAPTER_DIR
    if (source / "adapter_config.json").is_file():
        shutil.copytree(source, staging / "adapter")
    else:
        artifacts.write_adapter(staging / "adapter", model, base_weights, initial_model)
    tokenizer.save_pretrained(staging / "tokenizer")
    summary["gaps"]["adapter/ + head"] = check("the peft adapter/ on its base with the head", snippet_logits(
        adapter_encoder(staging / "adapter", head), AutoTokenizer.from_pretrained(staging / "tokenizer"), head,
        weights), expected)
    summary["files"].insert(0, ("adapter/", f"peft adapter: PeftModel.from_pretrained on {head['base_model']}"))
    summary["files"].append(("tokenizer/", "the tokenizer, as peftbench used it"))
    summary["code"] = loading_code(out, "adapter", bool(head["quantization"])) + "\n\n" + PREDICT
    summary["notes"] += adapter_notes(staging / "adapter")


def write_trainable(staging: Path, out: Path, folder: Path, model, tokenizer, summary) -> None:
    """The trainable tensors and the run's configuration, for ``strategies.load_trained``."""
    from peftbench import artifacts

    for name in (artifacts.WEIGHTS_FILE, artifacts.CONFIG_FILE):
        shutil.copy2(folder / name, staging / name)
    tokenizer.save_pretrained(staging / "tokenizer")
    hint = "" if foreign_modules(model.encoder) else " (--merge writes a plain transformers folder)"
    summary["files"].insert(0, (f"{artifacts.WEIGHTS_FILE}, {artifacts.CONFIG_FILE}",
                                f"the trainable tensors: strategies.load_trained{hint}"))
    summary["files"].append(("tokenizer/", "the tokenizer, as peftbench used it"))
    summary["code"] = PEFTBENCH_LOAD.format(out=str(out))


def adapter_encoder(adapter: Path, head: dict[str, Any]):
    """The adapter on its base, loaded as the README says (peft and transformers only)."""
    from peft import PeftModel
    from transformers import AutoModel, BitsAndBytesConfig

    options = {}
    if head["quantization"]:
        options["quantization_config"] = BitsAndBytesConfig.from_dict(dict(head["quantization"]))
    base = AutoModel.from_pretrained(head["base_model_path"], **options)
    keep_training_layout(base)  # what LOAD_ADAPTER_QUANTISED's loop does
    return PeftModel.from_pretrained(base, str(adapter)).eval()


def adapter_notes(adapter: Path) -> list[str]:
    """What loading this adapter elsewhere needs beyond peft and transformers, from its config."""
    config = json.loads((adapter / "adapter_config.json").read_text())
    notes = []
    if config.get("peft_type") == "BOFT" and (config.get("boft_n_butterfly_factor") or 1) > 1:
        notes.append("BOFT with butterfly factors > 1: peft builds them with a CUDA kernel; on a CPU it falls back "
                     "to one factor and refuses these weights (use --merge for a plain model)")
    return notes


def readme(summary: dict[str, Any], head: dict[str, Any]) -> str:
    lines = [f"# {summary['strategy']} (seed {summary['seed']}), exported by peftbench", "",
             f"Trained on {head['base_model']}; seed chosen: {summary['why']}.", ""]
    lines += [f"- `{name}`: {what}" for name, what in summary["files"]]
    lines += [f"- note: {note}" for note in summary["notes"]]
    code = summary["code"].rstrip()
    if "def predict" in code:
        code += '\n\n\nprint(predict(["a great film", "a dull mess"]))'
    lines += ["", "Predict:", "", "```python", code, "```"]
    if summary.get("code_classification"):
        lines += ["", "Or, with the head built in:", "", "```python", summary["code_classification"].rstrip(), "```"]
    return "\n".join(lines) + "\n"
