"""`llamapipe lm-train`: a language's SentencePiece + KenLM perplexity models from reference text."""
from __future__ import annotations

from pipelines.cli.common import CLIError, user_errors
from pipelines.steps import checks


def add_parsers(sub) -> None:
    p = sub.add_parser("lm-train", allow_abbrev=False,
                       help="train MODELS/lm/LANG.sp.model and LANG.arpa.bin from reference text",
                       description=(
                           "Train a language's perplexity models as CCNet did: CCNet normalisation, "
                           "SentencePiece unigram, 5-gram KenLM (lmplz) and build_binary. Writes "
                           "MODELS/lm/LANG.sp.model and MODELS/lm/LANG.arpa.bin."))
    p.add_argument("--lang", required=True, help="ISO 639-1 code as fastText labels it, e.g. en")
    p.add_argument("--text", nargs="+", required=True, metavar="FILE", help="reference text files (UTF-8)")
    p.add_argument("--out", required=True, metavar="MODELS", help="models folder")
    p.add_argument("--vocab-size", type=int, default=8000,
                   help="SentencePiece vocabulary (CCNet used 65536 on Wikipedia; default 8000)")
    p.add_argument("--order", type=int, default=5, help="n-gram order (default 5)")
    p.add_argument("--memory", default="20%", help="lmplz -S memory budget (default 20%%)")
    p.set_defaults(func=run_lm_train)


def run_lm_train(args, beam_args: list[str]) -> int:
    from filters.lm_train import train_language_models

    if beam_args:
        raise CLIError(f"lm-train does not take {' '.join(beam_args)}")
    checks.languages("--lang", [args.lang])
    checks.at_least("--vocab-size", args.vocab_size, 10)
    checks.at_least("--order", args.order, 1)
    with user_errors(ValueError):
        sp, lm = train_language_models(args.lang, args.text, args.out, vocab_size=args.vocab_size,
                                       order=args.order, memory=args.memory)
    print(f"wrote {sp}\nwrote {lm}")
    return 0
