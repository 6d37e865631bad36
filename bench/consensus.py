"""Benchmark: our consensus vs crowd-kit and the published figures, on the same real data.

Run from the project root:  python bench/consensus.py  [--data ../shared/data]

Text: CrowdSpeech dev-clean and dev-other (7 crowd transcriptions per utterance), scored with
the authors' metric (mean per-utterance WER after their normalisation); also corpus WER with
the engine's normalisation. crowd-kit's ROVER gets the authors' normalisation as tokenizer.
Categorical: the four truth-inference data sets, accuracy on questions with truth.
Speeds are wall-clock on this machine, single process (no I/O counted).
"""

import argparse
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from crowdkit.aggregation import ROVER, DawidSkene, MajorityVote

from engine.datasets.crowdspeech import read_baselines, read_crowd_answers, read_ground_truth
from engine.datasets.truth_inference import read_dataset
from engine.domain.dawid_skene import accuracy, dawid_skene, majority_vote
from engine.domain.rover_vote import aggregate_texts
from engine.domain.scoring import corpus_word_error_rate, mean_utterance_wer
from engine.domain.text_normalization import crowdspeech_normalize

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PUBLISHED_TEXT = {  # README of the shared data, recomputed from the authors' baselines.tsv
    "dev-clean": {"ROVER": 6.76, "RASA": 7.56, "HRRASA": 7.52, "T5": 5.72, "oracle": 3.81},
    "dev-other": {"ROVER": 13.19, "RASA": 14.35, "HRRASA": 14.37, "T5": 11.27, "oracle": 8.26},
}
PUBLISHED_PRODUCT = {"MV": 89.66, "D&S": 93.66}


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def text_table(data: Path) -> None:
    print("Text consensus, CrowdSpeech (mean per-utterance WER %, authors' normalisation)")
    header = f"{'split':<10} {'method':<28} {'mean WER':>9} {'corpus WER':>11} {'utt/s':>9}"
    print(header)
    print("-" * len(header))
    for split in ("dev-clean", "dev-other"):
        folder = data / "crowdspeech"
        answers = read_crowd_answers(folder / f"{split}-crowd.tsv")
        truth = read_ground_truth(folder / f"{split}-gt.txt")
        baselines = read_baselines(folder / f"{split}-baselines.tsv")
        n = len(truth)

        def score(texts: dict[str, str], truth: dict[str, str] = truth) -> tuple[float, float]:
            pairs = [(truth[t], texts[t]) for t in truth]
            return 100 * mean_utterance_wer(pairs), 100 * corpus_word_error_rate(pairs)

        ours, ours_seconds = timed(lambda: aggregate_texts(answers))  # noqa: B023
        ours_wer = score({t: c.text for t, c in ours.consensus.items()})
        selected, selected_seconds = timed(lambda: aggregate_texts(answers, method="select"))  # noqa: B023
        selected_wer = score({t: c.text for t, c in selected.consensus.items()})
        equal, equal_seconds = timed(lambda: aggregate_texts(answers, estimate_skills=False))  # noqa: B023

        frame = pd.DataFrame(
            {
                "task": [a.task for a in answers],
                "worker": [a.worker for a in answers],
                "text": [crowdspeech_normalize(a.text) for a in answers],
            }
        )
        rover = ROVER(tokenizer=lambda s: s.split(), detokenizer=lambda t: " ".join(t))
        crowdkit_texts, crowdkit_seconds = timed(lambda: rover.fit_predict(frame).to_dict())  # noqa: B023
        crowdkit_wer = score(crowdkit_texts)

        rows = [
            ("ours: weighted ROVER + skills", ours_wer, n / ours_seconds),
            (
                "ours: equal weights",
                score({t: c.text for t, c in equal.consensus.items()}),
                n / equal_seconds,
            ),
            ("ours: select best answer", selected_wer, n / selected_seconds),
            ("crowd-kit ROVER", crowdkit_wer, n / crowdkit_seconds),
        ]
        for method, (mean_wer, corpus_wer), speed in rows:
            print(f"{split:<10} {method:<28} {mean_wer:>9.2f} {corpus_wer:>11.2f} {speed:>9.0f}")
        for name, column in (("ROVER", "rover_result"), ("T5", "t5_result")):
            recomputed = score(baselines[column])
            print(
                f"{split:<10} {'published ' + name:<28} {PUBLISHED_TEXT[split][name]:>9.2f}"
                f" {recomputed[1]:>11.2f} {'-':>9}"
            )
        published = PUBLISHED_TEXT[split]
        print(
            f"{split:<10} {'ratios':<28} ours/crowd-kit WER {ours_wer[0] / crowdkit_wer[0]:.3f}, "
            f"ours/published ROVER {ours_wer[0] / published['ROVER']:.3f}, "
            f"ours/T5 {ours_wer[0] / published['T5']:.3f}, "
            f"speed ours/crowd-kit {crowdkit_seconds / ours_seconds:.1f}x"
        )
        print()


def categorical_table(data: Path) -> None:
    print("Categorical consensus, truth-inference (accuracy % on questions with truth)")
    header = f"{'data set':<9} {'method':<22} {'accuracy':>9} {'questions/s':>12}"
    print(header)
    print("-" * len(header))
    for name in ("product", "dog", "duck", "face"):
        answers, truth = read_dataset(data / "truth-inference" / name)
        n = len({a.question for a in answers})
        frame = pd.DataFrame(
            {
                "task": [a.question for a in answers],
                "worker": [a.worker for a in answers],
                "label": [a.label for a in answers],
            }
        )
        results = {}
        for method, run in (
            ("ours Dawid-Skene", lambda: dawid_skene(answers).labels),  # noqa: B023
            ("crowd-kit DawidSkene", lambda: DawidSkene(n_iter=100).fit_predict(frame).to_dict()),  # noqa: B023
            ("ours majority vote", lambda: majority_vote(answers).labels),  # noqa: B023
            ("crowd-kit MajorityVote", lambda: MajorityVote().fit_predict(frame).to_dict()),  # noqa: B023
        ):
            labels, seconds = timed(run)
            results[method] = (100 * accuracy(labels, truth), n / seconds)
            print(f"{name:<9} {method:<22} {results[method][0]:>9.2f} {results[method][1]:>12.0f}")
        if name == "product":
            for method, figure in PUBLISHED_PRODUCT.items():
                print(f"{name:<9} {'published ' + method:<22} {figure:>9.2f} {'-':>12}")
        ours, theirs = results["ours Dawid-Skene"], results["crowd-kit DawidSkene"]
        print(
            f"{name:<9} {'ratios':<22} DS accuracy ours/crowd-kit {ours[0] / theirs[0]:.4f}, "
            f"speed {ours[1] / theirs[1]:.1f}x"
        )
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", choices=("text", "categorical"))
    arguments = parser.parse_args()
    warnings.filterwarnings("ignore")  # crowd-kit's pandas deprecation noise
    if arguments.only != "categorical":
        text_table(arguments.data)
    if arguments.only != "text":
        categorical_table(arguments.data)


if __name__ == "__main__":
    main()
