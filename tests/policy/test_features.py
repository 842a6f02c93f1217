"""The feature spec comes from the compiler's header and refuses a compiler that does not match."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from compiler_opt.collect.decision_log import trace_header
from compiler_opt.errors import MlgoError
from compiler_opt.llvm.log_format import LogHeader, TensorSpec
from compiler_opt.policy.features import FeatureSpec, FeatureSpecError, build_feature_spec, policy_shape


def test_spec_is_the_header_minus_exclusions(inlining_default, inlining_always, inlining_spec):
    header = inlining_default[0]
    assert "inlining_default" in [f.name for f in header.features]
    assert inlining_spec.names == [f.name for f in header.features if f.name != "inlining_default"]
    assert len(inlining_spec.names) == len(inlining_always[0].features) >= 30
    assert inlining_spec.excluded == ("inlining_default",)
    assert inlining_spec.advice.name == "inlining_decision"
    assert all(f.type == "int64_t" and policy_shape(f) == () for f in inlining_spec.features)
    # The same compiler without the default decision fits; so does a trace log carrying the advice.
    inlining_spec.check_compatible(inlining_always[0])
    inlining_spec.check_compatible(header)
    inlining_spec.check_compatible(trace_header(header))


def test_spec_from_a_trace_header_drops_the_advice(inlining_always):
    spec = build_feature_spec(trace_header(inlining_always[0]), num_actions=2)
    assert spec.advice.name not in spec.names
    assert spec.names == [f.name for f in inlining_always[0].features]


def test_json_round_trip(inlining_spec, tmp_path):
    data = json.loads(json.dumps(inlining_spec.to_json()))
    assert {"name", "dtype", "shape"} <= set(data["features"][0])
    assert data["features"][0]["dtype"] == "int64"
    assert FeatureSpec.from_json(data) == inlining_spec
    inlining_spec.save(tmp_path)
    assert FeatureSpec.load(tmp_path) == inlining_spec


def test_mismatching_compiler_is_refused_with_names(inlining_spec, inlining_always):
    header = inlining_always[0]
    features = [f for f in header.features if f.name != "callee_users"]
    features = [replace(f, type="float") if f.name == "cost_estimate" else f for f in features]
    features.append(TensorSpec("shiny_new_feature", (1,), "int64_t"))
    with pytest.raises(MlgoError) as caught:
        inlining_spec.check_compatible(LogHeader(features, advice=header.advice), source="clang-99")
    message = str(caught.value)
    assert "does not fit clang-99" in message
    assert "missing features: callee_users" in message
    assert "extra features: shiny_new_feature" in message
    assert "cost_estimate (int64_t[1] in the policy, float[1] from clang-99)" in message


def test_other_advice_is_refused(inlining_spec, inlining_always):
    header = inlining_always[0]
    other = LogHeader(header.features, advice=TensorSpec("index_to_evict", (1,), "int64_t"))
    with pytest.raises(FeatureSpecError, match="advice index_to_evict"):
        inlining_spec.check_compatible(other)


def test_malformed_spec_file_is_a_clear_error(tmp_path):
    (tmp_path / "feature_spec.json").write_text("{not json")
    with pytest.raises(FeatureSpecError, match="cannot read the feature spec"):
        FeatureSpec.load(tmp_path)
