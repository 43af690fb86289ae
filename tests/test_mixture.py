"""The mixture spec, the token budget plan and deterministic sampling quotas."""
import pytest

from corpus.mixture import LLAMA_MIXTURE, MixtureError, load_mixture, parse_mixture, plan_budget
from corpus.sampling import sample_key, source_quotas


def _mix(**sources):
    return parse_mixture({"sources": {k: {"proportion": p, "epochs": e} for k, (p, e) in sources.items()}}, "m.yaml")


def test_llama_table_1_ships_as_default():
    m = load_mixture(LLAMA_MIXTURE)
    assert {s: (w.proportion, w.epochs) for s, w in m.sources.items()} == {
        "cc": (0.67, 1.10), "c4": (0.15, 1.06), "github": (0.045, 0.64), "wikipedia": (0.045, 2.45),
        "books": (0.045, 2.23), "arxiv": (0.025, 1.06), "stackexchange": (0.02, 1.03)}


@pytest.mark.parametrize("doc,message", [
    ({"sources": {"cc": {"proportion": 0.7}, "c4": {"proportion": 0.2}}}, r"m.yaml: proportions sum to 0.9, not 1 \(cc 0.7, c4 0.2\)"),
    ({"sources": {"cc": {"proportion": -1}, "c4": {"proportion": 2}}}, "source 'cc': proportion must be >= 0"),
    ({"sources": {"cc": {"proportion": 1, "epochs": 0}}}, "source 'cc': epochs must be > 0"),
    ({"sources": {"cc": {"epochs": 1}}}, "source 'cc' has no 'proportion'"),
    ({"sources": {"cc": {"proportion": 1, "weight": 2}}}, "source 'cc' has unknown key"),
    ({"sources": {"cc": {"proportion": "x"}}}, "must be numbers"),
    ({"mix": {}}, "non-empty 'sources'"),
])
def test_bad_mixtures_name_the_problem(doc, message):
    with pytest.raises(MixtureError, match=message):
        parse_mixture(doc, "m.yaml")


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(MixtureError, match="does not exist"):
        load_mixture(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: [unclosed")
    with pytest.raises(MixtureError, match="bad.yaml: not valid YAML"):
        load_mixture(bad)


def test_restrict_names_missing_and_unknown_sources():
    m = _mix(cc=(0.6, 1.0), c4=(0.3, 1.0), books=(0.1, 2.0))
    with pytest.raises(MixtureError, match="c4, books are in the mixture but have no --corpus"):
        m.restrict(["cc"], renormalize=False)
    with pytest.raises(MixtureError, match="no proportion for source.*github"):
        m.restrict(["cc", "github"], renormalize=True)
    r, warnings = m.restrict(["cc", "books"], renormalize=True)
    assert r.sources["cc"].proportion == pytest.approx(6 / 7) and r.sources["books"].proportion == pytest.approx(1 / 7)
    assert "c4" in warnings[0]


def test_default_budget_is_the_largest_no_source_overruns():
    m = _mix(cc=(0.8, 1.0), wiki=(0.2, 2.0))
    plan, budget, warnings = plan_budget(m, {"cc": 1000, "wiki": 50})
    assert budget == 500  # wiki: 2 epochs x 50 tokens / 0.2
    assert plan["wiki"]["required_epochs"] == pytest.approx(2.0)
    assert plan["cc"]["supplied_tokens"] == 400 and plan["wiki"]["supplied_tokens"] == 100
    assert plan["cc"]["realised_share"] == pytest.approx(0.8) and not warnings


def test_budget_beyond_a_sources_epochs_warns_and_caps_it():
    m = _mix(cc=(0.8, 1.0), wiki=(0.2, 2.0))
    plan, budget, warnings = plan_budget(m, {"cc": 1000, "wiki": 50}, budget=1000)
    assert budget == 1000
    assert len(warnings) == 1 and warnings[0].startswith("source wiki:") and "4.00 epochs" in warnings[0]
    assert plan["wiki"]["supplied_tokens"] == 100 and plan["cc"]["supplied_tokens"] == 800
    assert plan["wiki"]["realised_share"] == pytest.approx(100 / 900)
    assert sum(p["realised_share"] for p in plan.values()) == pytest.approx(1.0)


def test_source_without_tokens_is_an_error():
    with pytest.raises(MixtureError, match="wiki have a proportion but no tokens"):
        plan_budget(_mix(cc=(0.5, 1.0), wiki=(0.5, 1.0)), {"cc": 10, "wiki": 0})


def test_quotas_and_sample_keys():
    assert source_quotas(10, {"a": 0.67, "b": 0.33}) == {"a": 7, "b": 3}
    assert sum(source_quotas(1001, {"a": 0.5, "b": 0.25, "c": 0.25}).values()) == 1001
    assert sample_key(1, "doc") == sample_key(1, "doc") != sample_key(2, "doc")
    assert 0 <= sample_key(0, "x") < 1 << 64
