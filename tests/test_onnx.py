"""ONNX export: onnxruntime computes what predict and predict_proba compute."""

import doctest
import importlib
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import (
    make_classification,
    make_multilabel_classification,
    make_regression,
)
from sklearn.neural_network import MLPRegressor

pytest.importorskip("onnx")
pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

import onnx  # noqa: E402
import skl2onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

import sklearn_bsp.onnx  # noqa: E402
from sklearn_bsp import BSPClassifier, BSPRegressor  # noqa: E402
from sklearn_bsp.onnx import to_onnx  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Pruning settings that remove a large share of the synapses within the
# short fits of these tests.
PRUNED = dict(pruning_rate=0.2, pruning_patience=3, pruning_unit="batch")
DENSE = dict(pruning_rate=0)


def _run(onx, X):
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {session.get_inputs()[0].name: X})


def _data(kind):
    if kind == "multilabel":
        X, y = make_multilabel_classification(
            n_samples=300, n_features=20, n_classes=4, random_state=0
        )
        X = X / X.max()
    else:
        n_classes = 2 if kind == "binary" else 4
        X, y = make_classification(
            n_samples=300,
            n_features=20,
            n_informative=8,
            n_classes=n_classes,
            random_state=0,
        )
    return X.astype(np.float32), y


def _fit(kind, pruning, hidden=(32, 16)):
    X, y = _data(kind)
    clf = BSPClassifier(
        hidden_layer_sizes=hidden, max_iter=60, random_state=0, **pruning
    ).fit(X, y)
    return clf, X


@pytest.mark.parametrize("sparse_initializers", [False, True])
@pytest.mark.parametrize("sparsify", [False, True])
@pytest.mark.parametrize("pruning", [DENSE, PRUNED], ids=["dense", "pruned"])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_classifier_matches_predict_proba(kind, pruning, sparsify, sparse_initializers):
    clf, X = _fit(kind, pruning)
    if pruning is PRUNED:
        assert clf.compression_ > 0.3  # the export must handle real pruning
    else:
        assert clf.compression_ == 0
    expected_proba = clf.predict_proba(X)
    expected_label = clf.predict(X)
    if sparsify:
        clf.sparsify_coefs()

    label, proba = _run(to_onnx(clf, X, sparse_initializers=sparse_initializers), X)

    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba, expected_proba, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(label, expected_label)
    if sparsify:
        # The export densifies copies; the estimator keeps its sparse weights.
        assert all(sp.issparse(c) for c in clf.coefs_)


def test_string_labels_and_float64_input():
    X, y = _data("multiclass")
    X = X.astype(np.float64)
    labels = np.array(["ant", "bee", "cat", "dog"])[y]
    clf = BSPClassifier(max_iter=40, random_state=0, **PRUNED).fit(X, labels)

    label, proba = _run(to_onnx(clf, X), X)

    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(label, clf.predict(X))


def test_float_labels_are_refused_with_advice():
    X, y = _data("binary")
    clf = BSPClassifier(max_iter=5, random_state=0).fit(X, y.astype(float))
    with pytest.raises(ValueError, match="LabelEncoder"):
        to_onnx(clf, X)


def test_estimator_without_masks_is_refused_with_advice():
    X, y = make_regression(n_samples=50, n_features=4, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    with pytest.raises(TypeError, match=r"has none\. Convert it with skl2onnx"):
        to_onnx(reg.fit(X, y), X)


def _masked_regressor(loss="squared_error"):
    """A pruned BSPRegressor, two outputs, with two dead hidden neurons.

    Hidden neuron 0 loses all its inputs (it becomes a constant that the
    export folds into the next biases) and neuron 1 all its outputs (the
    export drops it), edited in place as ``coefs_`` are the truth.
    """
    X, y = make_regression(
        n_samples=200, n_features=10, n_targets=2, noise=1.0, random_state=0
    )
    if loss == "poisson":
        y = np.exp(y / np.abs(y).max())
    reg = BSPRegressor(
        hidden_layer_sizes=(24,),
        loss=loss,
        max_iter=200,
        pruning_rate=0.1,
        pruning_patience=5,
        random_state=0,
    ).fit(X / 3, y)
    assert reg.compression_ > 0.3
    for coef, mask, index in (
        (reg.coefs_[0], reg.coef_masks_[0], np.s_[:, 0]),
        (reg.coefs_[1], reg.coef_masks_[1], np.s_[1, :]),
    ):
        coef[index] = 0.0
        mask[index] = False
    return reg, (X / 3).astype(np.float32)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("sparse_initializers", [False, True])
def test_regressor_matches_predict(loss, sparse_initializers):
    reg, X = _masked_regressor(loss)
    assert reg.out_activation_ == ("exp" if loss == "poisson" else "identity")
    onx = to_onnx(reg, X, sparse_initializers=sparse_initializers)

    (prediction,) = _run(onx, X)

    assert prediction.shape == (X.shape[0], 2)
    np.testing.assert_allclose(prediction, reg.predict(X), rtol=1e-5, atol=1e-5)


def _weight_shapes(onx):
    shapes = [tuple(t.dims) for t in onx.graph.initializer if t.name.startswith("coef")]
    for node in onx.graph.node:
        for attribute in node.attribute:
            if attribute.name == "sparse_value":
                shapes.append(tuple(attribute.sparse_tensor.dims))
    return shapes


def test_export_drops_dead_hidden_neurons():
    reg, X = _masked_regressor()
    keep = reg.coef_masks_[0].any(axis=0) & reg.coef_masks_[1].any(axis=1)
    assert keep.sum() <= 22  # neurons 0 and 1 at least are dead

    shapes = _weight_shapes(to_onnx(reg, X))

    assert sorted(shapes) == sorted([(10, keep.sum()), (keep.sum(), 2)])


def test_sparse_initializers_hold_only_alive_synapses():
    clf, X = _fit("multiclass", PRUNED, hidden=(100,))
    dense = to_onnx(clf, X).SerializeToString()
    sparse_model = to_onnx(clf, X, sparse_initializers=True)

    alive = sum(int(m.sum()) for m in clf.coef_masks_)
    stored = [
        attribute.sparse_tensor
        for node in sparse_model.graph.node
        for attribute in node.attribute
        if attribute.name == "sparse_value"
    ]
    assert len(stored) == len(clf.coefs_)
    # The dead neurons removed, the remaining alive synapses are stored.
    n_stored = sum(numpy_helper.to_array(t.values).size for t in stored)
    assert n_stored <= alive
    assert len(sparse_model.SerializeToString()) < len(dense)


def test_registered_with_skl2onnx():
    clf, X = _fit("multiclass", PRUNED)
    onx = skl2onnx.to_onnx(clf, X[:1], options={id(clf): {"zipmap": False}})
    label, proba = _run(onx, X)
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(label, clf.predict(X))

    # skl2onnx's ZipMap, on request: one {class: probability} map per sample.
    onx = to_onnx(clf, X, zipmap=True)
    label, maps = _run(onx, X[:3])
    assert set(maps[0]) == set(clf.classes_.tolist())
    np.testing.assert_allclose(
        [maps[0][c] for c in clf.classes_], clf.predict_proba(X[:1])[0], atol=1e-5
    )


def test_registered_in_a_pipeline_with_sparse_option():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data("binary")
    pipe = make_pipeline(
        StandardScaler(), BSPClassifier(max_iter=40, random_state=0, **PRUNED)
    ).fit(X, y)
    clf = pipe[-1]
    onx = skl2onnx.to_onnx(
        pipe, X[:1], options={id(clf): {"zipmap": False, "sparse_initializers": True}}
    )
    assert any(a.name == "sparse_value" for n in onx.graph.node for a in n.attribute)
    label, proba = _run(onx, X)
    np.testing.assert_allclose(proba, pipe.predict_proba(X), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(label, pipe.predict(X))


def test_missing_extra_names_it(monkeypatch):
    # As if skl2onnx were not installed: importing it fails.
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    monkeypatch.delitem(sys.modules, "sklearn_bsp.onnx")
    with pytest.raises(ImportError, match=r"sklearn-bsp\[onnx\]"):
        importlib.import_module("sklearn_bsp.onnx")


def test_docstring_examples():
    # tests/test_docstrings.py skips modules whose extra may be missing; the
    # examples of this one run here, behind the importorskip above.
    result = doctest.testmod(
        sklearn_bsp.onnx, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0
    assert result.failed == 0


def test_regressor_registered_with_skl2onnx():
    reg, X = _masked_regressor()
    onx = skl2onnx.to_onnx(reg, X[:1])
    (prediction,) = _run(onx, X)
    np.testing.assert_allclose(prediction, reg.predict(X), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# ZipMap: off by default, alone and in a pipeline; on request.
# ---------------------------------------------------------------------------


def _pipeline(kind):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data(kind)
    pipe = make_pipeline(
        StandardScaler(), BSPClassifier(max_iter=40, random_state=0, **PRUNED)
    ).fit(X, y)
    return pipe, X


def _output_kinds(onx):
    return [(o.name, o.type.WhichOneof("value")) for o in onx.graph.output]


EXPORTS = {
    "skl2onnx_pipeline": lambda pipe, X: (skl2onnx.to_onnx(pipe, X[:1]), pipe),
    "skl2onnx_alone": lambda pipe, X: (skl2onnx.to_onnx(pipe[-1], X[:1]), pipe[-1]),
    "sklearn_bsp_alone": lambda pipe, X: (to_onnx(pipe[-1], X[:1]), pipe[-1]),
}


@pytest.mark.parametrize("export", sorted(EXPORTS))
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_no_zipmap_by_default(kind, export):
    pipe, X = _pipeline(kind)
    onx, model = EXPORTS[export](pipe, X)
    X_in = X if model is pipe else pipe[0].transform(X).astype(np.float32)

    # As docs/deploy.rst says: label, and the probabilities as one tensor.
    assert _output_kinds(onx) == [
        ("label", "tensor_type"),
        ("probabilities", "tensor_type"),
    ]
    proba_type = onx.graph.output[1].type.tensor_type
    assert proba_type.elem_type == onnx.TensorProto.FLOAT
    label, proba = _run(onx, X_in)
    assert isinstance(proba, np.ndarray) and proba.shape == (len(X), len(pipe.classes_))
    np.testing.assert_allclose(proba, model.predict_proba(X_in), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(label, model.predict(X_in))


def _zipmap_options(pipe, request):
    if request == "step":
        return {id(pipe[-1]): {"zipmap": True}}
    if request == "class":
        return {BSPClassifier: {"zipmap": True}}
    if request == "pipeline":
        return {id(pipe): {"zipmap": True}}
    return {"bspclassifier__zipmap": True}  # by step name


@pytest.mark.parametrize("request_by", ["step", "class", "pipeline", "name"])
def test_zipmap_on_request_in_a_pipeline(request_by):
    pipe, X = _pipeline("multiclass")
    onx = skl2onnx.to_onnx(pipe, X[:1], options=_zipmap_options(pipe, request_by))

    assert [kind for _, kind in _output_kinds(onx)] == ["tensor_type", "sequence_type"]
    label, maps = _run(onx, X[:5])
    expected = pipe.predict_proba(X[:5])
    assert len(maps) == 5 and set(maps[0]) == set(pipe.classes_.tolist())
    for row, probabilities in zip(maps, expected):
        np.testing.assert_allclose(
            [row[c] for c in pipe.classes_], probabilities, rtol=0, atol=1e-5
        )
    np.testing.assert_array_equal(label, pipe.predict(X[:5]))


def test_zipmap_columns_on_request_in_a_pipeline():
    pipe, X = _pipeline("multiclass")
    onx = skl2onnx.to_onnx(pipe, X[:1], options={id(pipe[-1]): {"zipmap": "columns"}})
    # The label, then one probability column per class.
    outputs = _run(onx, X)
    assert len(outputs) == 1 + len(pipe.classes_)
    np.testing.assert_allclose(
        np.column_stack(outputs[1:]), pipe.predict_proba(X), rtol=0, atol=1e-5
    )


def test_other_classifiers_keep_skl2onnx_default():
    # The pipeline parser is changed for BSP classifier steps only.
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data("binary")
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    onx = skl2onnx.to_onnx(pipe, X[:1])
    assert [kind for _, kind in _output_kinds(onx)] == ["tensor_type", "sequence_type"]


def test_importing_again_wraps_the_pipeline_parser_once():
    from skl2onnx._parse import _parse_sklearn_pipeline, sklearn_parsers_map
    from sklearn.pipeline import Pipeline

    module = importlib.reload(sklearn_bsp.onnx)
    parser = sklearn_parsers_map[Pipeline]
    assert parser.wrapped_by_sklearn_bsp is _parse_sklearn_pipeline
    pipe, X = _pipeline("binary")
    onx = module.to_onnx(pipe[-1], X[:1])
    assert _output_kinds(onx)[1] == ("probabilities", "tensor_type")
    assert _output_kinds(skl2onnx.to_onnx(pipe, X[:1]))[1] == (
        "probabilities",
        "tensor_type",
    )


# ---------------------------------------------------------------------------
# The export reads the weights as prediction does: non-zero = alive.
# ---------------------------------------------------------------------------


def _expected(model, X):
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    return model.predict(X)


def _exported(model, X, sparse_initializers=False):
    onx = to_onnx(model, X[:1], sparse_initializers=sparse_initializers)
    return _run(onx, X)[-1]


def _fitted_model(kind):
    if kind == "regressor":
        return _masked_regressor()
    return _fit("multiclass", PRUNED)


def _check_follows(model, X, before):
    after = _expected(model, X)
    # The edit matters: an export that ignored it would be caught.
    assert np.abs(after - before).max() > 0.05
    for sparse_initializers in (False, True):
        np.testing.assert_allclose(
            _exported(model, X, sparse_initializers), after, rtol=1e-5, atol=1e-5
        )
    np.testing.assert_allclose(
        _run(skl2onnx.to_onnx(model, X[:1]), X)[-1], after, rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_export_follows_reassigned_coefs(kind):
    model, X = _fitted_model(kind)
    before = _expected(model, X)
    rng = np.random.default_rng(0)
    # New arrays, non-zero everywhere: synapses the masks call pruned too.
    model.coefs_ = [
        c + rng.normal(scale=0.3, size=c.shape).astype(c.dtype) for c in model.coefs_
    ]
    assert not all(m.all() for m in model.coef_masks_)
    _check_follows(model, X, before)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_export_follows_in_place_edits(kind):
    model, X = _fitted_model(kind)
    before = _expected(model, X)
    coef, mask = model.coefs_[0], model.coef_masks_[0]
    alive, pruned = np.argwhere(mask), np.argwhere(~mask)
    # Half of the alive synapses of the first layer zeroed (the mask still
    # says alive), the others scaled, and pruned ones revived.
    coef[tuple(alive[::2].T)] = 0.0
    coef[tuple(alive[1::2].T)] *= 2.0
    coef[tuple(pruned[::3].T)] = 0.5
    _check_follows(model, X, before)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_revived_weight_is_honoured_by_predict_export_and_sparsify(kind):
    model, X = _fitted_model(kind)
    before = _expected(model, X)
    # An output synapse that the mask says pruned, from a last hidden
    # neuron that has inputs, set by hand. For the regressor it is neuron 1,
    # whose outputs were all pruned: an export by the masks drops the neuron.
    has_in = model.coefs_[-2].any(axis=0)
    i, j = np.argwhere(~model.coef_masks_[-1] & has_in[:, None])[0]
    if kind == "regressor":
        assert i == 1 and not model.coef_masks_[-1][1].any()
    model.coefs_[-1][i, j] = 4.0
    _check_follows(model, X, before)

    after = _expected(model, X)
    model.sparsify_coefs()
    assert model.coefs_[-1][i, j] == 4.0  # kept, not dropped by the mask
    np.testing.assert_allclose(_expected(model, X), after, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(_exported(model, X), after, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_export_follows_edits_of_sparse_coefs(kind):
    model, X = _fitted_model(kind)
    before = _expected(model, X)
    model.sparsify_coefs()
    model.coefs_[-1].data *= -1.5
    _check_follows(model, X, before)

    before = _expected(model, X)
    # New sparse matrices with entries where the masks say pruned.
    model.coefs_ = [
        sp.csr_matrix(np.where(m, c.toarray(), 0.2).astype(c.dtype))
        for c, m in zip(model.coefs_, model.coef_masks_)
    ]
    _check_follows(model, X, before)


def test_mismatched_coefs_are_refused():
    clf, X = _fit("multiclass", PRUNED)
    coefs, intercepts = list(clf.coefs_), list(clf.intercepts_)

    clf.coefs_ = coefs[:-1]
    with pytest.raises(ValueError, match="one array per layer"):
        to_onnx(clf, X)
    clf.coefs_ = [coefs[0], coefs[1][:-1], coefs[2]]
    with pytest.raises(ValueError, match="take 31 inputs, but layer 0 has 32"):
        to_onnx(clf, X)
    clf.coefs_ = [coefs[0], coefs[1], coefs[2][:, :-1]]
    clf.intercepts_ = [intercepts[0], intercepts[1], intercepts[2][:-1]]
    with pytest.raises(ValueError, match="n_outputs_=4"):
        to_onnx(clf, X)
    clf.coefs_ = [c.astype(object) for c in coefs]
    clf.intercepts_ = intercepts
    with pytest.raises(TypeError, match="numeric"):
        to_onnx(clf, X)
