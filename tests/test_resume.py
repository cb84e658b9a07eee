"""The dynamic pass's statement executor on plain Python scripts (no TensorFlow needed): what the
environment stops is skipped with stand-ins, a failure in `main()` resumes in `main`'s frame,
and the user's own errors stop the run."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from losslint.dynamic import standins
from losslint.dynamic.resume import Executor, main_module


@pytest.fixture
def run(tmp_path, monkeypatch):
    saved_main = sys.modules["__main__"]
    installed = []

    def execute(source: str) -> tuple[dict, object, standins.Ledger]:
        script = tmp_path / "train.py"
        script.write_text(textwrap.dedent(source))
        monkeypatch.chdir(tmp_path)
        ledger = standins.Ledger(lambda f: Path(f).resolve().parent == tmp_path.resolve())
        installed.append(standins.install(ledger))
        namespace = main_module(script).__dict__
        execution = Executor(script, script.read_text(), ledger, ledger.is_user_file).run(namespace)
        return namespace, execution, ledger

    yield execute
    for uninstall in installed:
        uninstall()
    sys.modules["__main__"] = saved_main
    for name in [n for n, m in sys.modules.items() if getattr(m, "__losslint_standin__", False)]:
        del sys.modules[name]


def test_a_missing_file_binds_stand_ins_and_the_script_goes_on(run) -> None:
    ns, execution, _ = run("""
        rows = open("data.csv").read().splitlines()
        n = 3
        after = "reached"
    """)
    assert ns["after"] == "reached" and ns["n"] == 3
    assert standins.is_standin(ns["rows"])
    (skip,) = execution.skips
    assert skip.line == 2 and skip.reason.kind == "file" and skip.names == ["rows"]
    assert execution.failure is None


def test_a_failure_inside_main_resumes_in_mains_frame(run) -> None:
    ns, execution, _ = run("""
        import json
        RESULT = {}

        def load(path):
            with open(path) as f:
                return json.load(f)

        def main(epochs):
            config = load("config.json")
            units = 4 * epochs
            RESULT["units"] = units
            RESULT["config"] = config
            return units

        if __name__ == "__main__":
            main(2)
            RESULT["after_main"] = True
    """)
    assert ns["RESULT"]["units"] == 8 and ns["RESULT"]["after_main"] is True
    assert standins.is_standin(ns["RESULT"]["config"])
    (skip,) = execution.skips
    # `config = load(...)` resumes in `load`, whose `with` failed: `load` returns a stand-in.
    assert skip.line == 6 and skip.origin == 6 and skip.names == ["f"]


def test_nested_calls_resume_at_each_level(run) -> None:
    ns, execution, _ = run("""
        LOG = []

        def train(path):
            data = open(path).read()
            LOG.append("train went on")

        def main():
            train("missing.txt")
            LOG.append("main went on")

        main()
        LOG.append("module went on")
    """)
    assert ns["LOG"] == ["train went on", "main went on", "module went on"]
    assert [s.line for s in execution.skips] == [5]


def test_a_with_block_goes_on_after_the_failed_statement(run) -> None:
    ns, _, _ = run("""
        import contextlib
        with contextlib.nullcontext():
            text = open("missing.txt").read()
            inside = True
        outside = True
    """)
    assert ns["inside"] is True and ns["outside"] is True


def test_a_missing_module_gets_a_stand_in_and_a_display_module_is_marked(run) -> None:
    ns, execution, ledger = run("""
        import matplotlib.pyplot as plt
        import acme_loader_that_does_not_exist as acme
        from tqdm import tqdm
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        frame = acme.read("x.csv")
        total = sum(tqdm([1, 2, 3]))
    """)
    assert ns["total"] == 6
    assert ledger.missing["matplotlib"][0] == "display"
    assert ledger.missing["acme_loader_that_does_not_exist"][0] == "missing"
    assert ledger.missing["acme_loader_that_does_not_exist"][1].line == 3
    assert execution.skips == []


def test_a_statement_failing_on_a_stand_in_is_the_environments(run) -> None:
    ns, execution, _ = run("""
        data = open("missing.txt").read()
        scale = float(data)
        done = True
    """)
    assert ns["done"] is True and standins.is_standin(ns["scale"])
    assert [s.reason.kind for s in execution.skips] == ["file", "stand-in"]


def test_a_size_read_off_missing_data_is_guessed_and_counted(run) -> None:
    ns, execution, ledger = run("""
        data = open("missing.txt").read()
        width = int(data.shape[-1])
        rows = list(range(data.count))
        num_classes = len(data)
    """)
    assert ns["width"] == standins.GUESS and len(ns["rows"]) == standins.GUESS
    assert ns["num_classes"] == standins.GUESS  # by its name: a stand-in has no length
    assert ledger.guesses == 3  # data.shape, range(data.count), num_classes


def test_the_users_own_error_stops_the_run(run) -> None:
    ns, execution, _ = run("""
        data = open("missing.txt").read()
        y = [1, 2, 3]
        y_scaled = y / 2
        never = True
    """)
    assert "never" not in ns
    error, _ = execution.failure
    assert isinstance(error, TypeError)


def test_a_missing_submodule_of_an_installed_package_is_the_users_bug(run) -> None:
    _, execution, _ = run("""
        from json.no_such_submodule import loads
    """)
    error, _ = execution.failure
    assert isinstance(error, ModuleNotFoundError)


def test_a_generator_is_not_resumed_but_its_caller_goes_on(run) -> None:
    ns, execution, _ = run("""
        def batches():
            yield open("missing.txt").read()

        first = next(batches())
        after = True
    """)
    assert ns["after"] is True and standins.is_standin(ns["first"])
    assert execution.skips[0].line == 5


def test_line_numbers_are_the_scripts_own(run) -> None:
    _, execution, _ = run("""
        from __future__ import annotations
        x: list[int] = [1]


        def f() -> None:
            raise ValueError("bug on line 7")

        f()
    """)
    error, tb = execution.failure
    while tb.tb_next is not None:
        tb = tb.tb_next
    assert tb.tb_lineno == 7


def test_an_assignment_from_a_resumed_function_gets_its_return_value(run) -> None:
    ns, execution, _ = run("""
        def train(path):
            rows = open(path).read()
            history = {"epochs": 3}
            return history, rows

        def main():
            history, rows = train("missing.txt")
            return history["epochs"]

        epochs = main()
    """)
    assert ns["epochs"] == 3
    assert [s.line for s in execution.skips] == [3]


def test_a_nested_call_in_the_arguments_is_not_taken_for_the_callee(run) -> None:
    ns, _, _ = run("""
        def read(path):
            return open(path).read()

        def parse(text):
            return ["parsed", text]

        parsed = parse(read("missing.txt"))
    """)
    assert standins.is_standin(ns["parsed"])


def test_a_glob_of_a_missing_folder_gives_stand_ins_not_an_empty_list(run) -> None:
    ns, execution, ledger = run("""
        import glob
        import pathlib
        paths = sorted(glob.glob("images/train/*.png"))
        first = paths[0]
        masks = sorted(pathlib.Path("masks").glob("*.png"))
        here = glob.glob("*.nothing")
    """)
    assert standins.is_standin(ns["first"]) and len(ns["masks"]) == standins.GUESS
    assert ns["here"] == []  # the folder is there: nothing matched, nothing stood in
    assert [text for _, text in ledger.absent] == [
        "`images/train/*.png` matches nothing: 'images/train' is not there",
        "`*.png` matches nothing: 'masks' is not there",
    ]


def test_a_model_that_needs_an_image_shape_is_built_on_the_next_guess(run) -> None:
    ns, execution, ledger = run("""
        data = open("missing.npy").read()

        def build(input_shape):
            height, width, channels = input_shape  # an image model
            return ("model", height, width, channels)

        def main():
            model = build(data.shape[1:])
            return model

        result = main()
    """)
    assert ns["result"] == ("model", 32, 32, 3)
    assert ledger.sample_shape == (32, 32, 3)
    assert [s.reason.kind for s in execution.skips] == ["file", "shape"]


def test_a_count_computed_from_missing_data_becomes_a_guessed_number(run) -> None:
    ns, _, _ = run("""
        import acme_loader_that_does_not_exist as acme
        ratings = acme.load("movielens")
        users_count = ratings.map(len).reduce(0, max).numpy()
        table = ratings.numpy()
    """)
    assert ns["users_count"] == standins.GUESS
    assert standins.is_standin(ns["table"])


def test_a_returned_model_is_retried_on_an_image_shape(run) -> None:
    ns, _, _ = run("""
        data = open("missing.npy").read()

        def build(input_shape):
            height, width, channels = input_shape
            return ("model", height, width, channels)

        def wrapped(input_shape):
            return build(input_shape)

        result = wrapped(data.shape[1:])
    """)
    assert ns["result"] == ("model", 32, 32, 3)


def test_a_container_a_skipped_loop_would_have_filled_is_the_environments(run) -> None:
    ns, execution, _ = run("""
        import json
        annotations = json.load(open("missing.json"))
        metadata = {}
        for annotation in annotations["annotations"]:
            metadata[annotation["id"]] = float(annotation["score"])  # fails on the stand-in
        largest = max(len(v) for v in metadata.values())
        done = True
    """)
    assert ns["done"] is True and execution.failure is None


def test_a_failure_in_a_script_written_for_another_backend_is_the_environments(run, monkeypatch) -> None:
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    ns, execution, _ = run("""
        import os
        os.environ["KERAS_BACKEND"] = "torch"
        x = (1.0).to("cuda")  # a torch tensor method, on a value that is not one here
        done = True
    """)
    assert ns["done"] is True and execution.skips[0].reason.kind == "backend"


def test_required_command_line_arguments_get_defaults_and_stand_ins(run, monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", ["train.py"])  # as the child runs it: no arguments
    ns, execution, ledger = run("""
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--data-dir", required=True)
        parser.add_argument("--epochs", type=int, default=3)
        parser.add_argument("config")
        args = parser.parse_args()
        epochs = args.epochs
    """)
    assert ns["epochs"] == 3 and standins.is_standin(ns["args"].data_dir) and standins.is_standin(ns["args"].config)
    ((where, text),) = ledger.absent
    assert where.line == 7 and "the following arguments are required: --data-dir, config" in text
    assert execution.failure is None
