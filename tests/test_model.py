"""The LLaMA architecture: parameter counts of the paper's table, shapes, block-diagonal attention."""
import dataclasses

import pytest
import torch

from train.attention import AttentionMask, attend, prepare, resolve_backend, xformers_available
from train.model import PRESETS, ModelArgs, Transformer, count_parameters, flops_per_token

# Parameters of the released LLaMA checkpoints (the paper's Table 2 rounds them to 6.7B ... 65.2B).
RELEASED = {"6.7B": 6_738_415_616, "13B": 13_015_864_320, "32.5B": 32_528_943_616, "65.2B": 65_285_660_672}


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_parameter_counts_match_the_paper(name):
    args, lr = PRESETS[name].args, PRESETS[name].lr
    with torch.device("meta"):
        model = Transformer(args)
    n = count_parameters(model)
    assert n == RELEASED[name]
    assert f"{int(n / 1e8) / 10:.1f}B" == name.replace("13B", "13.0B")
    assert lr == (3e-4 if name in ("6.7B", "13B") else 1.5e-4)
    assert (args.vocab_size, args.max_seq_len) == (32000, 2048)


def test_ffn_hidden_and_no_biases():
    assert [PRESETS[n].args.ffn_hidden for n in ("6.7B", "13B", "32.5B", "65.2B")] == [11008, 13824, 17920, 22016]
    with torch.device("meta"):
        model = Transformer(PRESETS["1b"].args)
    assert not any(name.endswith("bias") for name, _ in model.named_parameters())
    assert model.output.weight is not model.tok_embeddings.weight
    assert round(count_parameters(model, non_embedding=True) / 1e6) == 888  # ../shared/GPU.md's 1b
    args = PRESETS["1b"].args
    assert flops_per_token(args, 887_687_168, 2048) == 6 * 887_687_168 + 12 * 16 * 2048 * 2048


def _tiny(vocab=101, layers=2) -> Transformer:
    torch.manual_seed(0)
    model = Transformer(ModelArgs(dim=64, n_layers=layers, n_heads=4, vocab_size=vocab, multiple_of=32, max_seq_len=64))
    model.init_weights(torch.Generator().manual_seed(0))
    return model.eval()


def test_sdpa_block_diagonal_equals_documents_run_separately():
    model = _tiny()
    docs = [torch.randint(0, 101, (n,)) for n in (7, 20, 1, 12)]
    packed = torch.cat(docs)[None]
    starts = []
    pos = 0
    for d in docs[:-1]:
        pos += len(d)
        starts.append(pos)
    with torch.no_grad():
        together = model(packed, AttentionMask(1, packed.shape[1], (tuple(starts),)))
        pos = 0
        for d in docs:
            alone = model(d[None])
            torch.testing.assert_close(together[0, pos:pos + len(d)], alone[0], rtol=1e-4, atol=1e-4)
            pos += len(d)
        plain = model(packed)  # without the mask, later documents see earlier ones
    assert not torch.allclose(plain[0, 7:27], together[0, 7:27], atol=1e-3)


def test_mask_shapes_and_seqlens():
    m = AttentionMask(2, 8, ((3,), (2, 5)))
    assert m.seqlens() == [3, 5, 2, 3, 3]
    assert m.segment_ids().tolist() == [[0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 2, 2, 2]]
    allowed = prepare(m, "sdpa", "cpu")
    assert allowed.shape == (2, 1, 8, 8) and not allowed[0, 0, 3, 2] and allowed[0, 0, 4, 3]
    assert prepare(AttentionMask(2, 8), "sdpa", "cpu") is None


def test_backend_choice():
    assert resolve_backend("sdpa") == "sdpa"
    assert resolve_backend("auto") == ("xformers" if xformers_available() else "sdpa")
    with pytest.raises(ValueError, match="attention must be one of"):
        resolve_backend("flash")
    if not xformers_available():
        with pytest.raises(RuntimeError, match="xformers or CUDA is not available"):
            resolve_backend("xformers")


@pytest.mark.skipif(not xformers_available(), reason="needs CUDA and xformers (run on the GPU machine)")
@pytest.mark.parametrize("doc_mask", [False, True])
def test_xformers_agrees_with_sdpa_in_bf16(doc_mask):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 256, 8, 64, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    mask = AttentionMask(2, 256, ((40, 100), (128,)) if doc_mask else None)
    ref = attend(q.float(), k.float(), v.float(), prepare(mask, "sdpa", "cuda"), "sdpa")
    for backend in ("sdpa", "xformers"):
        out = attend(q, k, v, prepare(mask, backend, "cuda"), backend).float()
        assert ((out - ref).norm() / ref.norm()).item() < 1e-2


@pytest.mark.parametrize("doc_mask", [False, True])
def test_flex_attention_forward_equals_sdpa_on_cpu(doc_mask):
    """The flex backend's BlockMask gives SDPA's block-diagonal causal attention (forward: PyTorch has no
    CPU backward for flex_attention; the GPU check trains with it)."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 160, 4, 16) for _ in range(3))  # 160: not a multiple of flex's 128 blocks
    mask = AttentionMask(2, 160, ((17, 140), (64, 65)) if doc_mask else None)
    ref = attend(q, k, v, prepare(mask, "sdpa", "cpu"), "sdpa")
    out = attend(q, k, v, prepare(mask, "flex", "cpu"), "flex")
    assert (out - ref).abs().max().item() < 1e-5


def test_flex_model_logits_equal_sdpa_and_refuses_cpu_training():
    from train.attention import check_backend_device

    sdpa = _tiny()
    flex = _tiny()
    flex.load_state_dict(sdpa.state_dict())
    for layer in flex.layers:
        layer.attention.backend = "flex"
    flex.backend = "flex"
    tokens = torch.randint(0, 101, (2, 48))
    mask = AttentionMask(2, 48, ((10,), (20, 30)))
    with torch.no_grad():
        assert (flex(tokens, mask) - sdpa(tokens, mask)).abs().max().item() < 1e-4
    with pytest.raises(RuntimeError, match="flex trains only on CUDA"):
        check_backend_device("flex", torch.device("cpu"))
    check_backend_device("flex", torch.device("cpu"), training=False)
    check_backend_device("sdpa", torch.device("cpu"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run on the GPU machine)")
def test_flex_trains_on_gpu_like_sdpa():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 512, 8, 64, device="cuda", requires_grad=True) for _ in range(3))
    mask = AttentionMask(2, 512, ((40, 300), (128,)))
    grads = {}
    for backend in ("sdpa", "flex"):
        for t in (q, k, v):
            t.grad = None
        attend(q, k, v, prepare(mask, backend, "cuda"), backend).square().sum().backward()
        grads[backend] = [t.grad.clone() for t in (q, k, v)]
    for a, b in zip(grads["sdpa"], grads["flex"]):
        assert ((a - b).norm() / a.norm()).item() < 1e-3


def test_rmsnorm_and_rope_keep_dtype():
    model = _tiny()
    x = torch.randint(0, 101, (2, 16))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(x)
    assert logits.shape == (2, 16, 101)
    with pytest.raises(ValueError, match="exceeds max_seq_len"):
        model(torch.zeros(1, 65, dtype=torch.long))
    assert dataclasses.replace(PRESETS["tiny"].args, dim=128).head_dim == 32
