"""The no-hat stage drops in by configuration: with a classifier configured, the person model's people
get their heads classified and a confirmed no_hat alert says ``validated: false``. No real chef-hat
model exists offline, so the classifier here is a tiny ONNX graph built by the test (the share of bright
pixels in the crop is its "no_hat" score): what is tested is the stage's plumbing, not hat detection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from command_center.events.schemas import AlertCreated, Event
from detectors.base import ModelError
from detectors.config import HatSpec, RuleSpec
from detectors.hat import HatStage
from detectors.runner import DetectorPipeline
from stream_ingest.frames import AnalysedFrame, EvidenceStore
from tests.detectors.conftest import facemask_image, pipeline_config


def brightness_classifier(path: Path, outputs: int = 2) -> Path:
    """[N,3,S,S] -> [N,2] = [1 - mean, mean]: a stand-in for a real hat classifier."""
    x = helper.make_tensor_value_info("crops", TensorProto.FLOAT, ["N", 3, 64, 64])
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", outputs])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    nodes = [
        helper.make_node("ReduceMean", ["crops"], ["m4"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Unsqueeze", ["m4", "ax"], ["m"]),
        helper.make_node("Sub", ["one", "m"], ["inv"]),
        helper.make_node("Concat", ["inv", "m"] + (["m"] if outputs == 3 else []), ["scores"], axis=1),
    ]
    ax = helper.make_tensor("ax", TensorProto.INT64, [1], [1])
    graph = helper.make_graph(nodes, "hat", [x], [y], initializer=[one, ax])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_configured_classifier_turns_heads_into_unvalidated_no_hat_alerts(tmp_path: Path) -> None:
    classifier = brightness_classifier(tmp_path / "hat.onnx")
    base = pipeline_config("person")
    config = base.model_copy(
        update={
            "hat": HatSpec(enabled=True, classifier=classifier, min_score=0.2),
            "rules": {**base.rules, "no_hat": RuleSpec(k=2, n=3, min_score=0.2)},
        }
    )
    events: list[Event] = []
    pipe = DetectorPipeline(config, emit=events.append, evidence=EvidenceStore(tmp_path / "ev"))
    image = facemask_image("maksssksksss0.jpg")  # four people in the street
    t0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    for i in range(4):
        noisy = np.clip(image.astype(np.int16) + (i % 2) * 30, 0, 255).astype(np.uint8)  # moves the gate
        pipe.process([AnalysedFrame("cam", t0 + timedelta(seconds=2 * i), noisy)])
    alerts = [e for e in events if isinstance(e, AlertCreated)]
    assert [a.violation for a in alerts] == ["no_hat"]
    assert alerts[0].validated is False
    heads = [d["box"] for d in (alerts[0].model_extra or {})["detections"]]
    # Each head box sits at the top of a person, a small part of the frame.
    assert heads and all(b[3] - b[1] < 0.35 and b[1] < 0.5 for b in heads)
    assert pipe.stats.inferred["person"] == 4


def test_a_misshapen_classifier_or_missing_file_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="gives 3 scores per crop"):
        HatStage(HatSpec(enabled=True, classifier=brightness_classifier(tmp_path / "h3.onnx", outputs=3)))
    with pytest.raises(ModelError, match="not found"):
        HatStage(HatSpec(enabled=True, classifier=tmp_path / "none.onnx"))


def test_the_shipped_config_keeps_no_hat_off_and_unvalidated() -> None:
    cfg = pipeline_config()
    assert cfg.hat.enabled is False and cfg.model_validated("no_hat") is False
