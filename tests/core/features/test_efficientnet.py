"""EfficientNet-Lite0 features in onnxruntime: the same numbers as PyTorch, deterministic, usable by name."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fresh_python import run_fresh
from PIL import Image

from superintendent_core.data import images_from_files
from superintendent_core.features import (
    EXTRACTORS,
    EfficientNetLite0,
    choose_image_extractor,
    get_extractor,
    image_features,
)
from superintendent_core.features.efficientnet import (
    IMAGE_SIZE,
    build_graph,
    preprocess,
    weights_path,
)
from superintendent_core.store.errors import InvalidInput

FIXTURES = Path(__file__).parent / "fixtures"
PHOTOS = ("chelsea.png", "coffee.png", "astronaut.png")


@pytest.fixture(scope="module")
def extractor():
    return EfficientNetLite0(threads=1)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_features_match_pytorch_on_the_fixture_photos():
    reference = np.load(FIXTURES / "reference_features.npy")
    features = image_features([FIXTURES / name for name in PHOTOS], threads=1)
    assert features.shape == (3, 1280) and features.dtype == np.float32
    assert np.abs(features - reference).max() <= 1e-4
    # the features are not trivially small: a wrong network would not pass by accident
    assert reference.max() > 1.0 and (reference > 0).mean() > 0.3


def test_the_graph_is_a_valid_onnx_model():
    # onnx is a test requirement only
    import onnx

    from superintendent_core.features import load_state_dict

    model = onnx.load_from_string(build_graph(load_state_dict(weights_path())))  # written without the onnx package
    onnx.checker.check_model(model, full_check=True)  # with shape inference: every shape is consistent
    assert [i.name for i in model.graph.input] == ["image"]
    assert [o.name for o in model.graph.output] == ["features"]
    dims = [d.dim_value or d.dim_param for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 1280]
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("Conv") == 1 + 16 * 2 + 15 + 1 and ops.count("Add") == 9  # stem, blocks, head; residuals
    assert "Gemm" not in ops and "MatMul" not in ops  # the classifier is left out
    stem = next(n for n in model.graph.node if n.name == "stem")
    attrs = {a.name: list(a.ints) or a.i for a in stem.attribute}
    assert attrs["pads"] == [0, 0, 1, 1] and attrs["strides"] == [2, 2]  # TensorFlow's asymmetric SAME padding


def test_preprocessing_crops_the_centre_and_normalises():
    image = Image.new("RGB", (301, 200), (127, 255, 0))
    x = preprocess(image)
    assert x.shape == (3, IMAGE_SIZE, IMAGE_SIZE) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 100, 100], [0.0, 128 / 128, -127 / 128], atol=1e-6)
    # only the centre square (224/256 of the shorter side) is seen: a border of another colour does not change it
    framed = Image.new("RGB", (301, 200), (0, 0, 255))
    framed.paste(image.crop((0, 0, 301 - 60, 200 - 20)), (30, 10))
    np.testing.assert_allclose(preprocess(framed), x, atol=1e-6)


def test_output_is_deterministic_and_does_not_depend_on_batching(extractor):
    images = [Image.open(FIXTURES / name) for name in PHOTOS]
    one = np.vstack([extractor(im) for im in images])
    again = np.vstack([extractor(im) for im in images])
    batched = EfficientNetLite0(threads=1, batch_size=3).transform(images)
    np.testing.assert_array_equal(one, again)
    np.testing.assert_allclose(batched, one, atol=1e-5)
    two_threads = image_features(images, threads=2)
    np.testing.assert_allclose(two_threads, one, atol=1e-5)


def test_image_features_takes_paths_bytes_and_pil_images_in_chunks_with_progress():
    sources = [FIXTURES / PHOTOS[0], (FIXTURES / PHOTOS[1]).read_bytes(), Image.open(FIXTURES / PHOTOS[2])]
    calls = []
    out = image_features(sources, batch_size=2, progress=lambda done, total: calls.append((done, total)))
    assert out.shape == (3, 1280)
    assert calls == [(2, 3), (3, 3)]
    reference = np.load(FIXTURES / "reference_features.npy")
    assert np.abs(out - reference).max() <= 1e-4
    assert image_features([], "efficientnet_lite0").shape == (0, 1280)
    pixels = image_features(iter(sources), "pixels")  # a generator: total unknown
    assert pixels.shape == (3, 256)


def test_the_importers_take_an_extractor_by_name():
    files = [(name, (FIXTURES / name).read_bytes()) for name in PHOTOS]
    result = images_from_files(files, featurize="efficientnet_lite0")
    assert result.batch.features.shape == (3, 1280)
    assert result.batch.image_shape is None
    reference = np.load(FIXTURES / "reference_features.npy")
    assert np.abs(result.batch.features - reference).max() <= 1e-4
    default = images_from_files(files)  # the default is the rule's choice: photos -> efficientnet_lite0
    assert default.extractor == "efficientnet_lite0" and default.batch.features.shape == (3, 1280)
    np.testing.assert_allclose(default.batch.features, result.batch.features, atol=1e-6)
    pixels = images_from_files(files, featurize="pixels")
    assert pixels.extractor == "pixels" and pixels.batch.features.shape == (3, 256)


def test_tiny_grey_images_keep_their_pixels_by_default():
    from sklearn.datasets import load_digits

    digits = load_digits().images[:5]
    files = []
    for k, d in enumerate(digits):
        buf = io.BytesIO()
        Image.fromarray((d * 15).astype(np.uint8), mode="L").save(buf, format="PNG")
        files.append((f"{k}.png", buf.getvalue()))
    result = images_from_files(files)
    assert result.extractor == "pixels" and result.batch.features.shape == (5, 256)
    with pytest.raises(InvalidInput, match="Unknown image feature extractor 'resnet'.*efficientnet_lite0"):
        images_from_files(files, featurize="resnet")
    with pytest.raises(InvalidInput, match="featurize must be"):
        images_from_files(files, featurize=3)


def test_unknown_extractor_names_list_the_known_ones():
    with pytest.raises(ValueError, match="efficientnet_lite0"):
        get_extractor("vgg")
    assert set(EXTRACTORS) >= {"pixels", "efficientnet_lite0"}
    with pytest.raises(ValueError, match="batch_size"):
        image_features([FIXTURES / PHOTOS[0]], batch_size=0)
    with pytest.raises(ValueError, match="threads"):
        EfficientNetLite0(threads=0)(Image.new("RGB", (10, 10)))


def test_the_rule_keeps_pixels_for_tiny_grey_images_and_picks_pretrained_for_photos():
    from sklearn.datasets import load_digits

    digits = load_digits().images[:20]
    tiny_grey = [Image.fromarray((d * 16).astype(np.uint8), mode="L") for d in digits]
    assert choose_image_extractor(tiny_grey) == "pixels"
    assert choose_image_extractor([_png(im) for im in tiny_grey]) == "pixels"  # bytes too
    grey_as_rgb = [im.convert("RGB") for im in tiny_grey]  # a grey image saved as RGB is still grey
    assert choose_image_extractor(grey_as_rgb) == "pixels"
    photos = [FIXTURES / name for name in PHOTOS]
    assert choose_image_extractor(photos) == "efficientnet_lite0"
    assert choose_image_extractor(tiny_grey + [Image.open(photos[0])]) == "efficientnet_lite0"  # one photo decides
    tiny_colour = [Image.new("RGB", (8, 8), (200, 10, 10))]
    assert choose_image_extractor(tiny_colour) == "efficientnet_lite0"
    big_grey = [Image.new("L", (17, 10), 128)]  # just above PIXELS_MAX_SIDE (16)
    assert choose_image_extractor(big_grey) == "efficientnet_lite0"
    with pytest.raises(ValueError, match="at least one"):
        choose_image_extractor([])


def test_the_session_is_built_once_per_process(extractor):
    first = extractor._built()
    assert EfficientNetLite0(threads=1)._built() is first
    assert extractor.weights_sha256.startswith("579344248a93")
    assert extractor.build_seconds > 0


def test_features_need_neither_onnx_nor_torch_at_run_time():
    # onnx is installed for the tests only; the app writes the graph itself. Block both and compute features.
    code = (
        "import sys; sys.modules['onnx'] = None; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from superintendent_core.features import image_features\n"
        "d = 'tests/core/features/fixtures/'\n"
        "X = image_features([d + 'coffee.png'])\n"
        "print(float(np.abs(X[0] - np.load(d + 'reference_features.npy')[1]).max()))\n"
    )
    assert float(run_fresh(code)) <= 1e-4
