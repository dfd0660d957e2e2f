"""Export of a fitted BSP network to ONNX.

The exported graph is the *compacted* network that prediction uses, built
from ``coefs_`` and ``intercepts_`` as they are at export time by the same
helper (:func:`sklearn_bsp._inference.compact_network`): a synapse is one
with a non-zero weight, whatever ``coef_masks_`` says; hidden neurons left
without outgoing synapses are removed, and neurons left without incoming
synapses are folded into the next layer's biases. It computes the same
function as ``predict_proba`` (classifiers) or ``predict`` (regressors), to
float rounding.

Importing this module registers the converter with skl2onnx, so that
``skl2onnx.to_onnx(model, X)`` also works on a BSP estimator, alone or
inside a :class:`~sklearn.pipeline.Pipeline`. It needs the ``onnx`` extra
(``pip install "sklearn-bsp[onnx]"``).
"""

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

try:
    import onnx  # noqa: F401  (the ModelProto type that to_onnx returns)
    import skl2onnx
    from skl2onnx import update_registered_converter, update_registered_parser
    from skl2onnx._parse import _apply_zipmap, sklearn_parsers_map
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
        guess_proto_type,
    )
    from skl2onnx.proto import onnx_proto
except ImportError as exc:  # tested by test_missing_extra_names_it
    raise ImportError(
        "sklearn_bsp.onnx needs the packages skl2onnx and onnx (and "
        "onnxruntime to run the exported models). Install them with "
        "the 'onnx' extra: pip install \"sklearn-bsp[onnx]\"."
    ) from exc

from ._classifier import BSPClassifier
from ._inference import compact_network
from ._regressor import BSPRegressor

__all__ = ["to_onnx"]

# ONNX operator of each activation, looked up by scikit-learn's name for it
# (``activation`` for the hidden layers, ``out_activation_`` for the output).
# "exp" is the output of MLPRegressor(loss="poisson").
ACTIVATION_OPS = {
    "identity": None,
    "logistic": "Sigmoid",
    "tanh": "Tanh",
    "relu": "Relu",
    "softmax": "Softmax",
    "exp": "Exp",
}

# Options of the converter, with their allowed values (the first is the
# default), for skl2onnx's ``options=``. ``zipmap`` as in skl2onnx's
# classifiers, but off by default: the probabilities come out as one float
# tensor, like predict_proba.
CLASSIFIER_OPTIONS = {
    "zipmap": [False, True, "columns"],
    "sparse_initializers": [False, True],
    # Read by skl2onnx's ZipMap; class indices instead of labels are not
    # offered.
    "nocl": [False],
}
REGRESSOR_OPTIONS = {"sparse_initializers": [False, True]}
CLASSIFIER_ALIAS = "SklearnBSPClassifier"
REGRESSOR_ALIAS = "SklearnBSPRegressor"


def _is_multilabel(model):
    # A multilabel classifier has one sigmoid output per label; a binary one
    # a single sigmoid output; a multiclass one a softmax.
    return model.out_activation_ == "logistic" and model.n_outputs_ > 1


def _compact_layers(model):
    """The compacted layers of ``model``, as prediction computes them.

    Read from ``coefs_`` and ``intercepts_`` as they are now, by the helper
    that builds the network ``predict`` runs: a synapse is exported where
    its weight is non-zero, whatever ``coef_masks_`` says, so that weights
    assigned or edited after fitting are exported as ``predict`` uses them.
    ``coefs_`` may hold scipy.sparse matrices after ``sparsify_coefs()``;
    they are densified into copies and the estimator is left untouched.
    """
    coefs, intercepts, masks = compact_network(
        model.coefs_, model.intercepts_, model.activation
    )
    # The graph's input and outputs are declared from these attributes.
    n_outputs = coefs[-1].shape[1]
    if n_outputs != model.n_outputs_:
        raise ValueError(
            f"The last weight matrix has {n_outputs} outputs, but the "
            f"estimator has n_outputs_={model.n_outputs_}: coefs_ does not "
            "match the fitted estimator."
        )
    n_features = getattr(model, "n_features_in_", coefs[0].shape[0])
    if coefs[0].shape[0] != n_features:
        raise ValueError(
            f"The first weight matrix has {coefs[0].shape[0]} inputs, but "
            f"the estimator was fitted on n_features_in_={n_features}: "
            "coefs_ does not match the fitted estimator."
        )
    return coefs, intercepts, masks


def _option(scope_or_container, model, name, value):
    # Through to_onnx the options come as arguments (the estimator's class may
    # not be registered, e.g. a plain MLPRegressor with masks); through
    # skl2onnx.to_onnx they come from skl2onnx's ``options=``.
    if value is not None:
        return value
    return scope_or_container.get_options(model, {name: False})[name]


def _declare_outputs(scope, model, inputs, zipmap):
    """Declare the outputs: label and probabilities, or the prediction."""
    classifier = is_classifier(model)
    operator = scope.declare_local_operator(
        CLASSIFIER_ALIAS if classifier else REGRESSOR_ALIAS, model
    )
    operator.inputs = inputs
    tensor_type = (
        DoubleTensorType
        if guess_proto_type(inputs[0].type) == onnx_proto.TensorProto.DOUBLE
        else FloatTensorType
    )
    if not classifier:
        operator.outputs.append(scope.declare_local_variable("variable", tensor_type()))
        return operator.outputs
    label_type = (
        Int64TensorType
        if model.classes_.dtype.kind in "biu" or _is_multilabel(model)
        else StringTensorType
    )
    label = scope.declare_local_variable("label", label_type())
    probabilities = scope.declare_local_variable("probabilities", tensor_type())
    operator.outputs.extend([label, probabilities])
    zipmap = _option(scope, model, "zipmap", zipmap)
    if zipmap is False or _is_multilabel(model):
        # ZipMap builds one {class: probability} map per sample; a multilabel
        # output has no single class per sample, so it keeps the tensor.
        return operator.outputs
    return _apply_zipmap(zipmap, scope, model, inputs[0].type, operator.outputs)


def _calculate_shapes(operator):
    """Set the shapes of the outputs from the input's first dimension."""
    model = operator.raw_operator
    n_samples = operator.inputs[0].get_first_dimension()
    if not is_classifier(model):
        operator.outputs[0].type.shape = [n_samples, model.n_outputs_]
        return
    n_classes = len(model.classes_)
    label_shape = [n_samples, n_classes] if _is_multilabel(model) else [n_samples]
    operator.outputs[0].type.shape = label_shape
    operator.outputs[1].type.shape = [n_samples, n_classes]


class _Graph:
    """Add nodes and initializers with unique names."""

    def __init__(self, scope, container, proto_dtype):
        self.scope, self.container, self.proto_dtype = scope, container, proto_dtype
        self.dtype = (
            np.float64 if proto_dtype == onnx_proto.TensorProto.DOUBLE else np.float32
        )

    def node(self, op_type, inputs, output=None, **attributes):
        output = output or self.scope.get_unique_variable_name(op_type.lower())
        name = self.scope.get_unique_operator_name(op_type)
        self.container.add_node(op_type, inputs, output, name=name, **attributes)
        return output

    def constant(self, seed, value, shape=None, onnx_type=None):
        name = self.scope.get_unique_variable_name(seed)
        value = np.asarray(value)
        if onnx_type is None:
            onnx_type, value = self.proto_dtype, value.astype(self.dtype)
        shape = list(value.shape) if shape is None else shape
        self.container.add_initializer(name, onnx_type, shape, value.ravel())
        return name

    def weights(self, coef, mask, sparse):
        if not sparse:
            return self.constant("coefficient", coef)
        # Only the alive synapses, as a SparseTensorProto: skl2onnx stores a
        # scipy COO matrix as a Constant node with a sparse_value.
        name = self.scope.get_unique_variable_name("coefficient")
        rows, cols = np.nonzero(mask)
        values = coef[rows, cols].astype(self.dtype)
        content = sp.coo_matrix((values, (rows, cols)), shape=coef.shape)
        self.container.add_initializer(
            name, self.proto_dtype, list(coef.shape), content
        )
        return name


def _forward(scope, operator, container, sparse):
    """Add the layers; return the graph helper and the output's name."""
    model = operator.raw_operator
    proto_dtype = guess_proto_type(operator.inputs[0].type)
    if proto_dtype != onnx_proto.TensorProto.DOUBLE:
        proto_dtype = onnx_proto.TensorProto.FLOAT
    graph = _Graph(scope, container, proto_dtype)
    current = graph.node("Cast", operator.inputs[0].full_name, to=proto_dtype)
    coefs, intercepts, masks = _compact_layers(model)
    for i, (coef, intercept, mask) in enumerate(zip(coefs, intercepts, masks)):
        weights = graph.weights(coef, mask, sparse)
        product = graph.node("MatMul", [current, weights])
        current = graph.node(
            "Add", [product, graph.constant("intercepts", intercept[None, :])]
        )
        last = i == len(coefs) - 1
        op_type = ACTIVATION_OPS[model.out_activation_ if last else model.activation]
        if op_type == "Softmax":
            current = graph.node(op_type, current, axis=1)
        elif op_type is not None:
            current = graph.node(op_type, current)
    return graph, current


def _write_network(scope, operator, container, sparse_initializers):
    """Write the compacted network of a BSP classifier or regressor."""
    model = operator.raw_operator
    sparse = _option(container, model, "sparse_initializers", sparse_initializers)
    graph, output = _forward(scope, operator, container, bool(sparse))
    if not is_classifier(model):
        graph.node("Identity", output, operator.outputs[0].full_name)
        return
    label_name, proba_name = (v.full_name for v in operator.outputs)

    if _is_multilabel(model):
        graph.node("Identity", output, proba_name)
        # MLPClassifier's predict thresholds each label: y > 0.5.
        above = graph.node("Greater", [output, graph.constant("half", 0.5)])
        graph.node("Cast", above, label_name, to=onnx_proto.TensorProto.INT64)
        return
    if model.out_activation_ == "logistic":
        # Binary: the network outputs P(classes_[1]); predict_proba puts
        # 1 - p before it.
        negative = graph.node("Sub", [graph.constant("one", 1.0), output])
        graph.node("Concat", [negative, output], proba_name, axis=1)
    else:
        graph.node("Identity", output, proba_name)

    # The label is the class of the highest probability; ArgMax keeps the
    # first of equal ones, as numpy's argmax in predict does.
    classes = model.classes_
    if classes.dtype.kind in "biu":
        classes_name = graph.constant(
            "classes", classes.astype(np.int64), onnx_type=onnx_proto.TensorProto.INT64
        )
    elif classes.dtype.kind in "OUS":
        classes = np.array([str(c).encode("utf-8") for c in classes])
        classes_name = graph.constant(
            "classes", classes, onnx_type=onnx_proto.TensorProto.STRING
        )
    else:
        raise ValueError(
            f"Cannot export class labels of dtype {classes.dtype}: ONNX labels "
            "are integers or strings. Encode the labels (for instance with "
            "sklearn.preprocessing.LabelEncoder) before fitting."
        )
    best = graph.node("ArgMax", proba_name, axis=1, keepdims=0)
    graph.node("Gather", [classes_name, best], label_name, axis=0)


def _parse_bsp(scope, model, inputs, custom_parsers=None):
    """skl2onnx parser: the outputs, with the ``zipmap`` option (off by default)."""
    return _declare_outputs(scope, model, inputs, zipmap=None)


def _convert_bsp(scope, operator, container):
    """skl2onnx converter, with the ``sparse_initializers`` option."""
    _write_network(scope, operator, container, sparse_initializers=None)


def to_onnx(
    estimator,
    X_sample,
    *,
    sparse_initializers=False,
    zipmap=False,
    target_opset=None,
):
    """Convert a fitted BSP estimator into an ONNX model.

    The graph holds the compacted network: the hidden neurons that pruning
    has made dead are removed, so it is as narrow as the network that
    ``predict`` runs. A classifier's graph has two outputs, ``label`` (as
    ``predict``; int64 for integer and boolean labels, strings otherwise)
    and ``probabilities`` (a float tensor, as ``predict_proba``); a
    regressor's has one, ``variable``, of shape ``(n_samples, n_outputs_)``.

    Parameters
    ----------
    estimator : BSPClassifier or BSPRegressor
        A fitted estimator. Any fitted scikit-learn multilayer perceptron
        that also has ``coef_masks_`` works (the regressor branch is read
        from ``out_activation_``). Sparse ``coefs_`` (after ``sparsify_coefs()``)
        are accepted; the estimator is not modified.
    X_sample : array-like of shape (n_samples, n_features)
        Input whose dtype and number of columns set the graph's input:
        float64 input gives a float64 graph, any other dtype a float32
        graph.
    sparse_initializers : bool, default=False
        Store each weight matrix as an ONNX sparse tensor holding only the
        alive synapses (the non-zero weights, those prediction uses), instead
        of a dense tensor. This shrinks the file;
        onnxruntime densifies sparse tensors when it loads the model, so it
        does not change the inference time.
    zipmap : bool or "columns", default=False
        Classifiers only: add skl2onnx's ZipMap, which turns the
        probabilities into one ``{class: probability}`` map per sample
        (``"columns"``: one output per class). Off by default so that the
        probabilities are one tensor, like ``predict_proba``. Ignored for
        multilabel classifiers.
    target_opset : int, default=None
        ONNX opset; the latest one skl2onnx supports by default.

    Returns
    -------
    onnx_model : onnx.ModelProto
        The model; save it with ``onnx_model.SerializeToString()`` or
        ``onnx.save``.

    See Also
    --------
    skl2onnx.to_onnx : Works on BSP estimators, also inside pipelines,
        once this module is imported (options ``"zipmap"`` and
        ``"sparse_initializers"``).

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_bsp import BSPClassifier
    >>> from sklearn_bsp.onnx import to_onnx
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16).astype(np.float32)
    >>> clf = BSPClassifier(pruning_rate=0.1, pruning_patience=5, max_iter=30,
    ...                     random_state=0).fit(X, y)
    >>> onx = to_onnx(clf, X[:1], sparse_initializers=True)
    >>> session = ort.InferenceSession(onx.SerializeToString(),
    ...                                providers=["CPUExecutionProvider"])
    >>> label, proba = session.run(None, {"X": X[:5]})
    >>> bool((label == clf.predict(X[:5])).all())
    True
    >>> bool(np.allclose(proba, clf.predict_proba(X[:5]), atol=1e-5))
    True
    """
    check_is_fitted(estimator)
    if not hasattr(estimator, "coef_masks_"):
        raise TypeError(
            f"to_onnx exports BSP estimators, which have coef_masks_; "
            f"{type(estimator).__name__} has none. Convert it with "
            "skl2onnx.to_onnx instead."
        )
    X_sample = np.asarray(X_sample)

    def parse(scope, model, inputs, custom_parsers=None):
        return _declare_outputs(scope, model, inputs, zipmap=zipmap)

    def convert(scope, operator, container):
        _write_network(scope, operator, container, bool(sparse_initializers))

    # The input is named "X", as skl2onnx.to_onnx names it.
    input_type = DoubleTensorType if X_sample.dtype == np.float64 else FloatTensorType
    model_type = type(estimator)
    return skl2onnx.convert_sklearn(
        estimator,
        initial_types=[("X", input_type([None, X_sample.shape[1]]))],
        target_opset=target_opset,
        custom_parsers={model_type: parse},
        custom_shape_calculators={model_type: _calculate_shapes},
        custom_conversion_functions={model_type: convert},
    )


# Classes whose ZipMap is off unless requested, filled by _register.
_ZIPMAP_OFF_BY_DEFAULT = set()


def _has_own_options(scope, model):
    # The test of skl2onnx's pipeline parser for options given for a step:
    # by its id or by its class (options given for the pipeline, or by step
    # name, have been moved to the step's id before parsing).
    return scope.options is not None and (
        id(model) in scope.options or type(model) in scope.options
    )


def _wrap_pipeline_parser(parse_pipeline):
    """skl2onnx's pipeline parser, with ZipMap off for BSP classifier steps.

    skl2onnx's parser gives each classifier step that has no options of its
    own ``{"zipmap": True}``, the default of skl2onnx's classifiers, before
    parsing it; the BSP parser cannot tell that from a request. Setting the
    BSP default (``{"zipmap": False}``) first, for the same steps, keeps the
    probabilities one tensor inside a pipeline as outside; a request, for
    the step or for the pipeline, is left as it is.
    """

    def parse(scope, model, inputs, custom_parsers=None):
        for _, step in model.steps:
            if type(step) in _ZIPMAP_OFF_BY_DEFAULT and not _has_own_options(
                scope, step
            ):
                scope.add_options(id(step), {"zipmap": False})
        return parse_pipeline(scope, model, inputs, custom_parsers=custom_parsers)

    parse.wrapped_by_sklearn_bsp = parse_pipeline
    return parse


def _register():
    """Let ``skl2onnx.to_onnx`` convert the BSP estimators."""
    for cls, alias, options in [
        (BSPClassifier, CLASSIFIER_ALIAS, CLASSIFIER_OPTIONS),
        (BSPRegressor, REGRESSOR_ALIAS, REGRESSOR_OPTIONS),
    ]:
        update_registered_converter(
            cls,
            alias,
            _calculate_shapes,
            _convert_bsp,
            parser=_parse_bsp,
            options=options,
        )
        if alias == CLASSIFIER_ALIAS:
            _ZIPMAP_OFF_BY_DEFAULT.add(cls)
    # Unwrapped first, so that importing this module again wraps once.
    current = sklearn_parsers_map[Pipeline]
    original = getattr(current, "wrapped_by_sklearn_bsp", current)
    update_registered_parser(Pipeline, _wrap_pipeline_parser(original))


_register()
