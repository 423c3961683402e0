"""Command line: ``shoprank index | search | serve | demo | synonyms ...``.

Every command reports a user's mistake or a missing extra as one line on stderr and a non-zero
exit; ``--debug`` (or ``SHOPRANK_DEBUG=1``) shows the traceback instead."""
from __future__ import annotations

import errno
import functools
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.exceptions import TyperException

from shoprank.catalog import CATALOG_FORMATS, Catalog, ImportResult, load_catalog_file, load_magento
from shoprank.config import get_settings
from shoprank.ranking.cross_encoder import CE_EPOCHS, CE_LAYERS, CE_LR, CE_MAX_LENGTH

if TYPE_CHECKING:
    from shoprank.config import Settings
    from shoprank.encoders import ImageEncoder
    from shoprank.engine import ShopRank
    from shoprank.evaluation.harness import EvalReport
    from shoprank.types import RowError

log = logging.getLogger("shoprank")
_debug = [os.environ.get("SHOPRANK_DEBUG", "").lower() in ("1", "true", "yes")]


def _fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit: a usage mistake needs no traceback."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


# Import names whose distribution is named otherwise (the rest: "_" -> "-").
_DISTRIBUTIONS = {"sklearn": "scikit-learn", "efficientnet_lite_pytorch": "efficientnet-lite-pytorch"}


def _extra_for(module: str) -> str | None:
    """The shoprank extra that installs ``module`` (read from the installed package's metadata)."""
    from importlib.metadata import PackageNotFoundError, requires

    want = _DISTRIBUTIONS.get(module, module.replace("_", "-")).lower()
    try:
        reqs = requires("shoprank") or []
    except PackageNotFoundError:
        return None
    extras = [m.group(2) for r in reqs if (m := re.match(r"([A-Za-z0-9_.-]+).*extra\s*==\s*['\"]([\w-]+)['\"]", r))
              and m.group(1).lower().replace("_", "-") == want and m.group(2) != "all"]
    return extras[0] if extras else None


def _describe(e: BaseException) -> tuple[str, int]:
    """A one-line reason for ``e`` and the exit code: 2 for what the user can fix, 1 otherwise."""
    from shoprank.registry import MissingExtraError

    if isinstance(e, MissingExtraError):
        return str(e), 2
    if isinstance(e, ModuleNotFoundError) and e.name:
        top = e.name.split(".")[0]
        extra = _extra_for(top)
        hint = f"pip install 'shoprank[{extra}]'" if extra else f"install the package that provides {top!r}"
        return f"{e} (this needs {hint})", 2
    if isinstance(e, ImportError | FileNotFoundError | PermissionError | ValueError):
        return " ".join(str(e).split()) or type(e).__name__, 2  # QueryError and settings errors are ValueErrors
    if isinstance(e, OSError):
        return f"{type(e).__name__}: {' '.join(str(e).split())}", 1
    return f"{type(e).__name__}: {' '.join(str(e).split())} (a bug: run with --debug for the traceback)", 1


def _one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with its failures as one line (see the module docstring)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, TyperException):  # typer reports these itself
            raise
        except Exception as e:
            if _debug[0]:
                raise
            message, code = _describe(e)
            _fail(message, code)

    return run


app = typer.Typer(add_completion=False, help="Multimodal product search and ranking.",
                  pretty_exceptions_enable=False)


@app.callback()
def _options(debug: Annotated[bool, typer.Option(
        "--debug", envvar="SHOPRANK_DEBUG", help="show the traceback of an error instead of one line")] = False,
) -> None:
    _debug[0] = debug


def _setup_logging(verbose: bool, quiet: bool = False) -> None:
    """Our own INFO lines (none with ``quiet``); other libraries' only from WARNING up (faiss logs
    each CPU build it tries)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


def _summarize(one: str, many: str, rows: Sequence[RowError], color: str, show: int = 3) -> None:
    """Each row on its own line, except runs of one message about one file (e.g. the Luma reviews of
    products the catalog lacks): one line with the count and the first few."""
    groups: dict[tuple[str, str], list[RowError]] = {}
    for r in rows:
        groups.setdefault((r.source, re.sub(r"'[^']*'", "'…'", r.message)), []).append(r)
    for (source, shape), group in groups.items():
        if len(group) <= show + 1:
            for r in group:
                typer.secho(f"{one} {r}", fg=color, err=True)
            continue
        values = [m.group(0) for r in group if (m := re.search(r"'[^']*'", r.message))]
        firsts = list(dict.fromkeys(values))
        what = shape.replace(" '…'", "").replace("'…'", "")
        sample = f": {', '.join(firsts[:show])}{', …' if len(firsts) > show else ''}" if firsts else ""
        lines = [r.line for r in group]
        typer.secho(f"{many.format(n=len(group))} of {source} ({what}{sample}; lines {min(lines)}-{max(lines)})",
                    fg=color, err=True)


def _import(magento: Path | None, files: list[Path]) -> ImportResult:
    # Mistyped names fail before anything is read; a file that turns out unreadable is
    # reported below and the others are still imported.
    for f in files:
        if f.suffix.lower() not in CATALOG_FORMATS:
            _fail(f"{f}: unsupported catalog format {f.suffix or '(none)'!r}; use one of {', '.join(CATALOG_FORMATS)}")
        if not f.is_file():
            _fail(f"{f}: no such catalog file")
    res = ImportResult()
    if magento:
        try:
            res.extend(load_magento(magento))
        except OSError as e:  # no such folder, or not a Magento tree
            _fail(str(e))
    for f in files:
        res.extend(load_catalog_file(f))
    for ferr in res.file_errors:
        typer.secho(f"skipped file {ferr}", fg=typer.colors.RED, err=True)
    _summarize("skipped row", "skipped {n} rows", res.errors, typer.colors.YELLOW)
    _summarize("warning", "{n} warnings on rows", res.warnings, typer.colors.YELLOW)
    return res


def _build(res: ImportResult, name: str, settings: Settings | None = None,
           image_encoder: ImageEncoder | None = None) -> ShopRank:
    from shoprank import factory
    from shoprank.engine import ShopRank

    settings = settings or get_settings()
    t0 = time.perf_counter()
    # The photo model first: a missing extra is said before the text model is loaded or exported.
    image_encoder = image_encoder or factory.image_encoder(settings)
    engine = ShopRank.build(Catalog(res.products), settings.index_dir(name), settings, image_encoder=image_encoder)
    dt = time.perf_counter() - t0
    m = engine.artifacts.manifest
    typer.echo(f"indexed {m['products']} products, {m['images']} images, {m['reviews']} reviews "
               f"in {dt:.1f}s ({m['products'] / dt:.1f} products/s); {len(res.errors)} rows skipped, "
               f"{len(res.warnings)} warnings, {len(res.file_errors)} files unreadable")
    typer.echo(f"index: {settings.index_dir(name)}, generation {engine.generation} (current)")
    return engine


def _live(name: str, files: list[Path], compact: bool) -> None:
    from shoprank.engine import ShopRank
    from shoprank.index.live import CatalogWrite

    settings = get_settings()
    root = settings.index_dir(name)
    try:
        engine = ShopRank.open(root, settings)
    except FileNotFoundError as e:
        _fail(str(e))
    if compact:
        if files:
            _fail("--compact takes no catalog files: it rebuilds from the index's own live catalog")
        t0 = time.perf_counter()
        live = Catalog(engine.artifacts.catalog.live())
        built = ShopRank.build(live, root, settings, catalog_seq=engine.catalog_seq)
        typer.echo(f"compacted {live.n_live} products up to catalog write {engine.catalog_seq} into "
                   f"{built.generation} in {time.perf_counter() - t0:.1f}s")
        return
    if not files:
        _fail("--update needs catalog files")
    res = _import(None, files)
    t0 = time.perf_counter()
    seqs = engine.write([CatalogWrite.put(p) for p in res.products])
    typer.echo(f"applied {len(seqs)} products as catalog writes {seqs[0] if seqs else '-'}..{seqs[-1] if seqs else '-'}"
               f" in {time.perf_counter() - t0:.1f}s; {len(res.errors)} rows skipped")


@app.command()
def index(
    catalog: Annotated[list[Path] | None, typer.Argument(help="CSV / JSONL / Parquet catalog files")] = None,
    magento: Annotated[Path | None, typer.Option(help="Magento sample-data folder (default: the Luma data)")] = None,
    name: Annotated[str, typer.Option(help="index name under SHOPRANK_HOME/indexes")] = "luma",
    update: Annotated[bool, typer.Option(
        "--update", help="apply the files' rows as catalog writes (added or replaced products) to the "
        "served index, no rebuild; running servers pick them up")] = False,
    compact: Annotated[bool, typer.Option(
        "--compact", help="rebuild the index from its live catalog (built products plus every write), "
        "folding the write log into a new generation")] = False,
    verbose: bool = False,
) -> None:
    """Ingest a catalog, encode every modality and build the indexes."""
    _setup_logging(verbose)
    files = list(catalog or [])
    if update or compact:
        _live(name, files, compact)
        return
    if not files and magento is None:
        magento = get_settings().data_dir / "magento_luma"
        if not magento.is_dir():
            _fail(f"no catalog given and {magento} not found (set SHOPRANK_DATA_DIR)")
    res = _import(magento, files)
    if not res.products:
        typer.secho("no valid products to index", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    _build(res, name)


def _width(ch: str) -> int:
    """Terminal columns of one character: a CJK one takes two, a control or combining one none."""
    from wcwidth import wcwidth

    return max(wcwidth(ch), 0)


def _cell(text: str, width: int, right: bool = False) -> str:
    """``text`` cut and padded to ``width`` terminal columns."""
    out, used = [], 0
    for ch in text:
        w = _width(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    pad = " " * (width - used)
    return pad + "".join(out) if right else "".join(out) + pad


@app.command()
def search(
    text: Annotated[str | None, typer.Argument(help="query text")] = None,
    image: Annotated[Path | None, typer.Option(help="query photo", exists=True, dir_okay=False)] = None,
    k: int = 10,
    name: str = "luma",
    category: Annotated[str | None, typer.Option(help="only this category or below it, e.g. Bags")] = None,
    price_min: Annotated[float | None, typer.Option(help="lowest price", min=0)] = None,
    price_max: Annotated[float | None, typer.Option(help="highest price", min=0)] = None,
    in_stock: Annotated[bool, typer.Option("--in-stock", help="only products that can be bought now")] = False,
    fusion: str | None = None,
    explain: bool = False,
) -> None:
    """Search a built index from the terminal (loads only what the query needs)."""

    from shoprank.engine import ShopRank
    from shoprank.types import Filters, Query

    _setup_logging(False, quiet=True)
    if text is None and image is None:
        _fail("give a query text, --image PHOTO, or both")
    settings = get_settings()
    engine = ShopRank.open(settings.index_dir(name), settings)
    filters = Filters(category=category, price_min=price_min, price_max=price_max, in_stock=in_stock)
    q = Query(text=text, image=image.read_bytes() if image else None, k=k, filters=filters, fusion=fusion,
              explain=explain)
    res = engine.search(q)
    if res.photo_labels:
        typer.echo("photo looks like: " + ", ".join(f"{a} {b:.0%}" for a, b in res.photo_labels))
    id_width = max((sum(map(_width, h.product.id)) for h in res.hits), default=0)  # ids are shown whole
    for i, h in enumerate(res.hits, 1):
        p = h.product
        price = f"{p.price:.2f}" if p.price is not None else "-"
        stock = "" if p.in_stock else "  [out of stock]"  # why it may rank below less relevant items
        typer.echo(f"{i:2d}. {h.score:6.3f}  {_cell(p.id, id_width)} {_cell(p.title, 48)} {_cell(price, 8, right=True)}"
                   f"  {p.category}{stock}")
        if explain:
            top = sorted(h.contributions.items(), key=lambda t: -abs(t[1]))[:5]
            typer.echo("      " + ", ".join(f"{n}={v:+.2f}" for n, v in top))
    # "total" is the search's time; the other entries are its parts ("pipeline" holds the stages).
    typer.echo(f"({len(res.hits)} shown of {res.candidates} candidates, {res.timings_ms.get('total', 0.0):.1f} ms)")


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound now: a taken port is one line before anything says "serving"."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a TIME_WAIT port is free
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        why = "is in use" if e.errno == errno.EADDRINUSE else f"cannot be opened ({e.strerror})"
        _fail(f"port {port} on {host} {why}: choose another with --port N or SHOPRANK_PORT=N")
    return sock


def _serve(engine: Any, sock: socket.socket) -> None:
    import uvicorn

    from shoprank.service import create_app

    try:
        app = create_app(engine)
    except RuntimeError as e:  # e.g. prod without an admin key: one line, not a traceback
        sock.close()
        _fail(str(e))
    host, port = sock.getsockname()[:2]
    typer.echo(f"shoprank is serving on http://{host}:{port}/  (Ctrl+C to stop)")
    uvicorn.Server(uvicorn.Config(app, log_level="info")).run(sockets=[sock])


@app.command("user-token")
def user_token_cmd(user_id: str) -> None:
    """Print the X-User-Token that opens one shopper's own profile (signed with the user-token
    secret, else the admin key)."""
    from shoprank.service.security import user_token

    s = get_settings()
    secret = s.user_token_secret or s.admin_key
    if secret is None or not secret.get_secret_value():
        typer.secho("error: set SHOPRANK_USER_TOKEN_SECRET or SHOPRANK_ADMIN_KEY", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    typer.echo(user_token(secret.get_secret_value(), user_id))


@app.command()
def serve(name: str = "luma", host: str | None = None, port: int | None = None) -> None:
    """Serve the HTTP API and search page for a built index."""
    from shoprank.engine import ShopRank

    _setup_logging(False)
    settings = get_settings()
    sock = _listen(host or settings.host, port or settings.port)
    try:
        engine = ShopRank.open(settings.index_dir(name), settings)
    except BaseException:
        sock.close()
        raise
    _serve(engine, sock)


def _save_models(rep: EvalReport, save_model: Path | None, name: str) -> None:
    """LambdaMART as <dir>/<set>, each neural variant as <dir>/<set>-<variant>, the cross-encoder
    reranker as <dir>/<set>-ce: servable by name."""
    if save_model is None:
        return
    if rep.model is not None:
        rep.model.save(save_model / name)
    for pipe, model in rep.neural_models.items():
        model.save(save_model / f"{name}-{pipe.removeprefix('fusion_')}")
    if rep.reranker is not None:
        from shoprank.ranking.rerank import save_reranker

        save_reranker(save_model / f"{name}-ce", *rep.reranker)


@app.command("eval")
def evaluate(
    dataset: Annotated[list[str] | None, typer.Option(help="labelled set(s); default: every searchable one")] = None,
    max_queries: Annotated[int | None, typer.Option(help="sample this many queries per set")] = None,
    text_encoder: Annotated[str, typer.Option(help="e5 | minilm (the sets are English)")] = "minilm",
    folds: int = 5,
    rounds: int = 300,
    out: Annotated[Path, typer.Option(help="where tables, per-query results and plots go")] = Path(
        "benchmarks/out/eval"),
    save_model: Annotated[Path | None, typer.Option(
        help="save the rankers trained on all queries here: <dir>/<set> (LambdaMART), <dir>/<set>-<variant>, "
             "<dir>/<set>-ce (the cross-encoder reranker, with --cross-encoder)")] = None,
    judgments: Annotated[list[Path] | None, typer.Option(
        help="judgment CSVs over a served index instead of the labelled sets (`shoprank analytics`)")] = None,
    index: Annotated[str, typer.Option(help="the index --judgments refer to")] = "luma",
    neural: Annotated[bool, typer.Option(
        help="also train and score the neural fusion rankers (early, attention, transformer, late)")] = False,
    model: Annotated[list[Path] | None, typer.Option(
        help="saved ranker folder(s) to score as they are on every query (e.g. trained on another set)")] = None,
    augment: Annotated[int, typer.Option(
        help="also train each learned ranker with this many perturbed copies of every training query")] = 0,
    cross_encoder: Annotated[bool, typer.Option(
        help="fine-tune a MiniLM cross-encoder per fold: alone over LambdaMART's top 30, and stacked on LambdaMART "
             "and on the best fusion ranker (with --neural)")] = False,
    ce_layers: Annotated[int, typer.Option(help="cross-encoder: MiniLM layers kept (of 6)")] = CE_LAYERS,
    ce_max_length: Annotated[int, typer.Option(help="cross-encoder: tokens per (query, product) pair")] = CE_MAX_LENGTH,
    ce_epochs: Annotated[int, typer.Option(help="cross-encoder: fine-tuning epochs per fold")] = CE_EPOCHS,
    ce_lr: Annotated[float, typer.Option(help="cross-encoder: fine-tuning learning rate")] = CE_LR,
    ce_train_queries: Annotated[int | None, typer.Option(
        help="fine-tune each fold's cross-encoder on at most this many training queries (sampled)")] = None,
    neural_train_queries: Annotated[int | None, typer.Option(
        help="train each neural variant on at most this many of a fold's training queries (sampled)")] = None,
) -> None:
    """Score BM25, dense, RRF, linear fusion, the linear ranker and LambdaMART on labelled query sets."""
    from shoprank.engine import ShopRank
    from shoprank.evaluation.datasets import LOADERS, load_dataset
    from shoprank.evaluation.harness import (
        CE_PIPELINES,
        NEURAL_PIPELINES,
        PIPELINES,
        CrossEncoderSetup,
        evaluate_dataset,
    )
    from shoprank.evaluation.plots import metrics_chart
    from shoprank.evaluation.report import markdown_table

    _setup_logging(False)
    pipelines = PIPELINES + (NEURAL_PIPELINES if neural else ()) + (CE_PIPELINES if cross_encoder else ())
    ce_setup = CrossEncoderSetup(ce_layers, ce_max_length, ce_epochs, ce_train_queries, ce_lr)
    saved = {}
    for path in model or []:
        from shoprank.ranking import load_ranker

        try:
            saved[f"saved:{path.name}"] = load_ranker(path)
        except (OSError, ValueError, KeyError) as e:
            _fail(f"--model {path}: {e}")
    reports = []
    if judgments:
        from shoprank.evaluation.datasets import load_judgments

        served = ShopRank.open(get_settings().index_dir(index), get_settings())
        for path in judgments:
            try:
                ds = load_judgments(path, served.artifacts.catalog.products)
            except (OSError, ValueError) as e:
                _fail(f"{path}: {e}")
            rep = evaluate_dataset(served, ds, n_folds=folds, num_rounds=rounds, pipelines=pipelines, models=saved,
                                   keep_models=save_model is not None, augment=augment, cross_encoder=ce_setup)
            rep.save(out)
            _save_models(rep, save_model, ds.name)
            reports.append(rep)
            typer.echo(f"\n{ds.name}: {rep.queries} queries over index {index!r}, {folds}-fold query-grouped CV"
                       + (f" ({ds.note})" if ds.note else "") + "\n")
            typer.echo(markdown_table(rep))
    settings = get_settings().model_copy(update={"text_encoder": text_encoder, "image_encoder": "none"})
    for name in [] if judgments else dataset or list(LOADERS):
        kwargs = {"max_queries": max_queries} if max_queries and name in ("crowdflower", "homedepot") else {}
        try:
            ds = load_dataset(name, settings.data_dir, **kwargs)
        except FileNotFoundError as e:
            typer.secho(f"skipped {name}: {e}", fg=typer.colors.YELLOW)
            continue
        if not ds.searchable or not ds.qrels:
            typer.secho(f"skipped {name}: {ds.note}", fg=typer.colors.YELLOW)
            continue
        engine = ShopRank.build(Catalog(ds.products), settings.index_dir(f"eval-{name}"), settings)
        rep = evaluate_dataset(engine, ds, n_folds=folds, num_rounds=rounds, pipelines=pipelines, models=saved,
                               log_features=out / name / "features.parquet", keep_models=save_model is not None,
                               augment=augment, neural_train_queries=neural_train_queries, cross_encoder=ce_setup)
        rep.save(out)
        _save_models(rep, save_model, name)
        reports.append(rep)
        typer.echo(f"\n{name}: {rep.queries} queries, {rep.products} products, {folds}-fold query-grouped CV\n")
        typer.echo(markdown_table(rep))
    if reports:
        typer.echo(f"\nplot: {metrics_chart(reports, out / 'metrics.png')}")


@app.command("train-default")
def train_default(
    text_encoder: Annotated[str, typer.Option(help="the encoder the model serves with: e5 | minilm")] = "e5",
    dataset: Annotated[list[str] | None, typer.Option(help="labelled sets to train on")] = None,
    out: Annotated[Path | None, typer.Option(
        help="model folder (default: the packaged one for the encoder, shoprank/ranking/models/default-<encoder>)")]
    = None,
    check: Annotated[bool, typer.Option(help="first fit on each set alone and score it on the others")] = True,
    max_queries: Annotated[int | None, typer.Option(help="sample this many queries per set")] = None,
    rounds: int = 300,
    report: Annotated[Path, typer.Option(help="where the cross-set tables go")] = Path("benchmarks/out/default"),
) -> None:
    """Train the default ranker on the labelled sets (every query) and save it; with --check,
    each set's model is first scored on the other sets beside BM25, dense, RRF and the linear ranker."""
    from shoprank.evaluation.report import markdown_table
    from shoprank.evaluation.transfer import cross_check, fit_default, labelled_rows
    from shoprank.ranking.default import packaged_path

    _setup_logging(False)
    settings = get_settings().model_copy(update={"text_encoder": text_encoder, "image_encoder": "none",
                                                 "ranker": "linear"})
    sets = []
    for name in dataset or ["crowdflower", "homedepot"]:
        try:
            sets.append(labelled_rows(name, settings, max_queries))
        except (FileNotFoundError, ValueError) as e:
            _fail(f"{name}: {e}")
    lines = []
    for train in sets if check else []:
        for test in sets:
            if test is train:
                continue
            rep, pipe = cross_check(train, test, text_encoder, rounds)
            rep.save(report / f"trained-on-{train.ds.name}")
            lines.append(f"\n{pipe} on {test.ds.name}: {rep.queries} queries, {rep.products} products\n\n"
                         + markdown_table(rep, vs=pipe))
            typer.echo(lines[-1])
    model = fit_default(sets, text_encoder, rounds)
    dest = out or packaged_path(text_encoder)
    model.save(dest)
    if lines:
        report.mkdir(parents=True, exist_ok=True)
        (report / f"cross-set-{text_encoder}.md").write_text("\n".join(lines) + "\n")
    typer.echo(f"\ndefault ranker ({text_encoder}, trained on {', '.join(model.trained_on)}; "
               f"fallback terms: {', '.join(model.fallback)}) saved to {dest}")


@app.command()
def features(
    out: Annotated[Path | None, typer.Option(help="write the markdown here (e.g. docs/FEATURES.md)")] = None,
) -> None:
    """The modalities and ranking features as declared: routes, weights, meanings."""
    from shoprank.features.docs import markdown

    text = markdown()
    if out is None:
        typer.echo(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        typer.echo(str(out))


@app.command()
def embeddings(
    name: str = "luma",
    out: Annotated[Path, typer.Option(help="PNG to write")] = Path("benchmarks/out/embeddings.png"),
) -> None:
    """PCA and t-SNE maps of product embeddings per modality, coloured by category."""
    from shoprank.engine import ShopRank
    from shoprank.evaluation.plots import embedding_maps

    settings = get_settings()
    typer.echo(str(embedding_maps(ShopRank.open(settings.index_dir(name), settings), out)))


@app.command()
def simulate(
    name: str = "luma",
    shoppers: int = 40,
    seed: int = 0,
    out: Annotated[Path, typer.Option(help="where the table, JSON and plot go")] = Path("benchmarks/out/simulator"),
) -> None:
    """Simulated shoppers with hidden tastes: nDCG@10 with and without personalization."""
    import json

    from shoprank.engine import ShopRank
    from shoprank.evaluation.plots import lift_chart
    from shoprank.evaluation.simulator import simulate as run_simulation

    _setup_logging(False)
    settings = get_settings()
    engine = ShopRank.open(settings.index_dir(name), settings)
    t0 = time.perf_counter()
    rep = run_simulation(engine, n_shoppers=shoppers, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "simulation.json").write_text(json.dumps({"shoppers": shoppers, "seed": seed, "rows": rep.rows(),
                                                     "per_shopper": {"personalized": rep.personalized,
                                                                     "baseline": rep.baseline}}, indent=2))
    (out / "simulation.md").write_text(rep.markdown() + "\n")
    typer.echo(rep.markdown())
    typer.echo(f"({shoppers} shoppers, {time.perf_counter() - t0:.0f} s) plot: {lift_chart(rep, out / 'lift.png')}")


@app.command()
def analytics(
    days: Annotated[float, typer.Option(help="the last this many days")] = 7.0,
    out: Annotated[Path | None, typer.Option(help="where the report and plots go (default <home>/analytics)")] = None,
    judgments: Annotated[Path | None, typer.Option(
        help="fit a click model and write graded judgments here (CSV query,product_id,grade,score,impressions)")] \
        = None,
    click_model: Annotated[str, typer.Option(help="pbm (position-based, EM) | sdbn (simplified DBN)")] = "pbm",
    min_impressions: Annotated[int, typer.Option(help="judge pairs shown at least this often")] = 5,
    export: Annotated[Path | None, typer.Option(help="write impressions and events as NDJSON here")] = None,
    retention: Annotated[bool, typer.Option(help="apply the retention settings to the impression log now")] = False,
) -> None:
    """Search analytics from the impression and event logs: searches over time, CTR@k, MRR of
    clicks, conversion, zero-result and no-click queries, latency, experiment readouts; plots."""
    import json

    from shoprank import factory
    from shoprank.analytics.report import join, load_report

    _setup_logging(False)
    s = get_settings()
    if not s.impressions_path.is_file():
        _fail(f"no impression log at {s.impressions_path}: serve with SHOPRANK_LOG_IMPRESSIONS=true first")
    imps = factory.impression_log(s)
    events = factory.event_log(s)
    try:
        if retention:
            anonymized, deleted = imps.enforce_retention()
            typer.echo(f"retention: {anonymized} impressions anonymized, {deleted} deleted")
        exp = factory.experiment_store(s).get()
        since = time.time() - days * 86400.0
        rep = load_report(imps, events, since=since, experiment=exp)
        out_dir = out or s.home / "analytics"
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "report.json").write_text(json.dumps(rep.to_json(), indent=1, default=str))
        (out_dir / "report.md").write_text(rep.markdown() + "\n")
        try:
            from shoprank.analytics.plots import figures

            for name, png in figures(rep).items():
                (out_dir / f"{name}.png").write_bytes(png)
        except ImportError as e:
            typer.secho(f"no plots: pip install 'shoprank[eval]' ({e})", fg=typer.colors.YELLOW, err=True)
        typer.echo(rep.markdown())
        typer.echo(f"\nreport and plots: {out_dir}")
        if judgments is not None:
            from shoprank.analytics.clickmodel import judgments as judge
            from shoprank.analytics.clickmodel import make_click_model, write_judgments

            try:
                model = make_click_model(click_model)
            except ValueError as e:
                raise typer.BadParameter(str(e)) from None
            pages = [v.page() for v in join(imps.scan(since), events.scan()) if v.imp.query and v.imp.products]
            n = write_judgments(judgments, judge(model.fit(pages), min_impressions=min_impressions))
            typer.echo(f"{n} judgments from {len(pages)} result pages ({click_model}) -> {judgments}")
        if export is not None:
            export.parent.mkdir(parents=True, exist_ok=True)
            with open(export, "w", encoding="utf-8") as f:
                n_imp = n_ev = 0
                for imp in imps.scan(since):
                    f.write(json.dumps({"record": "impression", **imp.to_json()}, ensure_ascii=False) + "\n")
                    n_imp += 1
                for se in events.scan():
                    if se.ts >= since:
                        ev = se.event
                        f.write(json.dumps({"record": "event", "seq": se.seq, "ts": se.ts, "type": ev.type,
                                            "user_id": ev.user_id, "session_id": ev.session_id,
                                            "product_id": ev.product_id, "query": ev.query,
                                            "search_id": ev.search_id, "position": ev.position},
                                           ensure_ascii=False) + "\n")
                        n_ev += 1
            typer.echo(f"exported {n_imp} impressions and {n_ev} events -> {export}")
    finally:
        imps.close()
        events.close()


events_app = typer.Typer(help="Shopper event logs.")
app.add_typer(events_app, name="events")


@events_app.command("import")
def import_events(
    fmt: Annotated[str, typer.Argument(help="otto | jdsearch | events (CSV/JSONL with user_id, product_id, ...)")],
    path: Path,
) -> None:
    """Bulk-import an event log into the durable event store (SHOPRANK_EVENTS_DB).

    `shoprank serve` folds the log into profiles and fits the collaborative models when it starts."""
    from shoprank import factory
    from shoprank.personalization.importers import IMPORTERS

    if fmt not in IMPORTERS:
        raise typer.BadParameter(f"unknown format {fmt!r}; one of {sorted(IMPORTERS)}")
    res = IMPORTERS[fmt](path)
    for err in res.errors:
        typer.secho(f"skipped {err}", fg=typer.colors.YELLOW, err=True)
    settings = get_settings()
    settings.events_path.parent.mkdir(parents=True, exist_ok=True)
    log_ = factory.event_log(settings)
    try:
        log_.append(res.events, time.time())
        typer.echo(f"imported {len(res.events)} events ({len(res.errors)} bad lines) into {settings.events_path}; "
                   f"{log_.count()} in the log")
    finally:
        log_.close()


synonyms_app = typer.Typer(help="The synonym sets of an index (served processes read edits within a second).")
app.add_typer(synonyms_app, name="synonyms")


def _synonym_store(name: str) -> Any:
    from shoprank import factory

    settings = get_settings()
    root = settings.index_dir(name)
    if not root.is_dir():
        raise FileNotFoundError(f"no shoprank index at {root} (run `shoprank index` first)")
    return factory.synonym_store(settings, root)


@synonyms_app.command("import")
def import_synonyms(
    path: Annotated[Path, typer.Argument(help="one set a line: `a, b, c` (multi-way) or `tee => t-shirt` (one-way)",
                                         exists=True, dir_okay=False)],
    name: Annotated[str, typer.Option(help="index name under SHOPRANK_HOME/indexes")] = "luma",
    replace: Annotated[bool, typer.Option("--replace", help="delete the index's other sets first")] = False,
) -> None:
    """Add the sets in a file to an index (the same set imported twice is kept once)."""
    from shoprank.query.synonym_store import parse_synonym_lines

    sets, errors = parse_synonym_lines(path.read_text(encoding="utf-8"))
    for err in errors:
        typer.secho(f"skipped {err}", fg=typer.colors.YELLOW, err=True)
    store = _synonym_store(name)
    try:
        store.put_many(sets, replace_all=replace)
        typer.echo(f"imported {len(sets)} synonym sets ({len(errors)} bad lines); {len(store.sets().sets)} in {name}")
    finally:
        store.close()


@synonyms_app.command("list")
def list_synonyms(name: Annotated[str, typer.Option(help="index name under SHOPRANK_HOME/indexes")] = "luma") -> None:
    """The index's synonym sets: id, then the set."""
    store = _synonym_store(name)
    try:
        for sid, s in sorted(store.sets().sets.items()):
            typer.echo(f"{sid}\t{s.describe()}")
    finally:
        store.close()


rules_app = typer.Typer(help="Merchandising rules (pin, hide, boost, bury), as PUT /admin/rules keeps them.")
app.add_typer(rules_app, name="rules")


def _read_rules(path: Path) -> dict[str, Any]:
    """``{id: rule}`` from a JSON object of rules by id, or a JSON list / JSON lines of rules with an ``id``."""
    import json

    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(data, dict):
        return data
    if not isinstance(data, list) or not all(isinstance(r, dict) and isinstance(r.get("id"), str) for r in data):
        raise ValueError(f"{path}: give an object of rules by id, or a list of rules each with an 'id'")
    return {r["id"]: {k: v for k, v in r.items() if k != "id"} for r in data}


def _served_catalog(name: str) -> Catalog:
    from shoprank import factory

    settings = get_settings()
    home = factory.index_home(settings, settings.index_dir(name))
    current = home.current()
    if current is None:
        raise FileNotFoundError(f"no index {name!r} at {settings.index_dir(name)} (run `shoprank index` first)")
    return Catalog.load(home.path(current) / "catalog.jsonl")


@rules_app.command("list")
def list_rules() -> None:
    """Every stored rule, one JSON line each (with ``id`` and whether it is ``active`` now)."""
    from shoprank import factory

    store = factory.rule_store(get_settings())
    try:
        for rule_id, rule in sorted(store.rules().items()):
            typer.echo(_json_line({"id": rule_id, "active": rule.active(time.time()),
                                  **rule.model_dump(exclude_defaults=True)}))
    finally:
        store.close()


@rules_app.command("import")
def import_rules(
    path: Path,
    index: Annotated[str | None, typer.Option(help="check the product ids against this index's served catalog")]
    = None,
) -> None:
    """Store the rules of a JSON file (each replacing the rule of its id), all or none."""
    from shoprank import factory
    from shoprank.search.merch_rule import MerchRule, unknown_products
    from shoprank.types import describe_error

    rules: dict[str, MerchRule] = {}
    for rule_id, body in _read_rules(path).items():
        try:
            rules[rule_id] = MerchRule.model_validate(body, strict=True)
        except ValueError as e:
            raise ValueError(f"rule {rule_id!r}: {describe_error(e)}") from None
    if index is not None:
        catalog = _served_catalog(index)
        for rule_id, rule in rules.items():
            if unknown := unknown_products(rule, catalog.__contains__):
                raise ValueError(f"rule {rule_id!r}: unknown product ids {unknown[:20]} in index {index!r}")
    store = factory.rule_store(get_settings())
    try:
        store.put_many(rules)
        typer.echo(f"imported {len(rules)} rules; {len(store.rules())} stored")
    finally:
        store.close()


@rules_app.command("delete")
def delete_rule(rule_id: str) -> None:
    from shoprank import factory

    store = factory.rule_store(get_settings())
    try:
        if not store.delete(rule_id):
            _fail(f"no rule {rule_id!r}")
        typer.echo(f"deleted rule {rule_id!r}")
    finally:
        store.close()


def _json_line(obj: object) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False)


@app.command()
def demo(
    host: str | None = None,
    port: int | None = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="start the web server after building")] = True,
) -> None:
    """Make a small demo catalog (English + Chinese, drawn photos), index it and serve it."""
    from shoprank import factory
    from shoprank.catalog.demo import write_demo_catalog

    _setup_logging(False)
    settings = get_settings()
    sock = _listen(host or settings.host, port or settings.port) if serve else None  # before the build
    try:
        image = factory.image_encoder(settings)  # without the image extra the demo runs on text alone
    except ImportError as e:
        typer.secho(f"photos off: {e}", fg=typer.colors.YELLOW, err=True)
        settings, image = settings.model_copy(update={"image_encoder": "none"}), None
    path = write_demo_catalog(settings.home / "demo-catalog")
    engine = _build(_import(None, [path]), "demo", settings, image)
    for q in ("red backpack", "女士瑜伽裤", "coffee mug under 15"):
        res = engine.search(q, k=3)
        typer.echo(f"  {q!r}: " + " | ".join(h.product.title for h in res.hits))
    if sock is not None:
        _serve(engine, sock)


# Wrapped here, once every command is registered: typer builds the commands when called, so
# in-process runs (tests) get the same one-line errors.
for _info in [*app.registered_commands, *events_app.registered_commands, *synonyms_app.registered_commands,
              *rules_app.registered_commands]:
    if _info.callback is not None:
        _info.callback = _one_line_errors(_info.callback)

if __name__ == "__main__":
    app()
