"""Model page: the estimated accuracy and when to stop first; retrain, choose model / strategy / shuffle,
automatic retrains, charts."""

import altair as alt
import pandas as pd
import streamlit as st

from superintendent_core.acquisition import strategy_description, strategy_names
from superintendent_core.kinds import format_value
from superintendent_core.learning.learner import TrainingError
from superintendent_core.learning.models import MODELS, model_label, models_for
from superintendent_core.learning.stopping import (
    ESTIMATE_KEYS,
    describe_estimate,
    estimate_curve,
    latest_estimate,
    when_to_stop,
)
from superintendent_core.store import StoreError
from superintendent_core.strategies import DEFAULT_STRATEGY
from ui import finish
from ui import state as S
from ui.auth import guard
from ui.compare import render as compare_strategies
from ui.feature_settings import progress_line
from ui.featurize import status as features_status
from ui.project import Project
from ui.widgets import require_project, say, text_label

DEFAULT_STRATEGY_LABEL = "default"
#: Shown for a stored strategy this app has not registered (registered in another process, say).
UNREGISTERED = "not registered in this app: retrains here would refuse it"


def _strategy_label(name: str | None) -> str:
    """``name: what it does``; the project's default (None) as ``default (neighbourhood): …``."""
    if name is None:
        return f"{DEFAULT_STRATEGY_LABEL} ({DEFAULT_STRATEGY}): {strategy_description(DEFAULT_STRATEGY)}"
    try:
        return text_label(f"{name}: {strategy_description(name)}")
    except ValueError:
        return text_label(f"{name}: {UNREGISTERED}")


def strategy_options(stored: str | None) -> tuple[list[str | None], int]:
    """Each strategy once: None (the default, which the default's own name also means) and the others;
    a stored name this app does not know is kept in the list so that saving does not change it."""
    options: list[str | None] = [None, *(n for n in strategy_names() if n != DEFAULT_STRATEGY)]
    if stored is not None and stored != DEFAULT_STRATEGY and stored not in options:
        options.append(stored)
    return options, options.index(None if stored == DEFAULT_STRATEGY else stored)


def retrain(project: Project) -> None:
    """Run one retrain now, with a progress bar; errors become a message."""
    bar = st.progress(0.0, text="Starting…")

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(1.0, max(0.0, fraction)), text=message)

    try:
        with st.spinner("Retraining…"):
            snapshot = project.scheduler.run(progress=progress)
    except (TrainingError, StoreError, ValueError) as exc:
        bar.empty()
        say("error", exc)
        return
    except Exception as exc:  # a user's model can fail in any way: report it, keep the page
        bar.empty()
        say("error", f"The retrain failed: {type(exc).__name__}: {exc}")
        return
    bar.empty()
    result = snapshot.result
    score = "n/a" if result.score is None else f"{result.score:.3f}"
    summary = describe_estimate(getattr(snapshot, "estimate", None))
    lead = f"{summary.headline}. " if summary.known else ""
    st.success(text_label(
        f"Retrained on {result.n_labels:,} labels in {snapshot.seconds:.2f} s. {lead}"
        f"(Cross-validated {result.metric}: {score}.) The pool is re-ranked."
    ))


def last_retrain(project: Project) -> None:
    snapshot = project.scheduler.snapshot
    if project.scheduler.running:
        st.info("A retrain is running in the background; labelling goes on meanwhile.")
    if project.scheduler.error:
        say("warning", f"Last retrain failed: {project.scheduler.error}")
    if project.scheduler.cold_start_error:
        say("warning",
            "Could not choose representative first items for this project, so it is served in its own "
            f"order until the first retrain: {project.scheduler.cold_start_error}"
        )
    progress_line(features_status(project))
    if snapshot is None:
        st.caption("No model in this session of the app yet: press Retrain.")
        return
    in_use = project.store.features_in_use()
    if snapshot.feature_set != in_use:
        st.warning(text_label(
            f"This model was trained on {snapshot.feature_set or 'the import features'}; the project now uses "
            f"{in_use or 'the import features'}, so its suggestions are stale"
            + (" — a retrain is running." if project.scheduler.running else ". Retrain to update them.")))
    result = snapshot.result
    top, bottom = st.columns(2), st.columns(2)
    top[0].metric("Labels", f"{result.n_labels:,}")
    top[1].metric("Time", f"{snapshot.seconds:.2f} s")
    bottom[0].metric("Folds", result.cv_folds or "—")
    bottom[1].metric(f"CV {result.metric}", "n/a" if result.score is None else f"{result.score:.3f}",
                     help=CV_READS_LOW)
    st.caption(text_label(f"Model: {model_label(snapshot.model_name)} · strategy: {result.strategy} · "
                          f"version {snapshot.version}"))
    for message in result.messages:
        st.caption(f"ℹ️ {text_label(message)}")


#: History fields that may say who ran a retrain (the app, ``orchestrate`` …), first found wins.
SOURCE_FIELDS = ("source", "by", "origin", "host")


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and value != value) and value is not pd.NA


def read_history(project: Project) -> pd.DataFrame | None:
    """The project's retrain history (None, with the store's message shown, when it cannot be read)."""
    try:
        return project.store.history()
    except StoreError as exc:
        say("error", exc)
        return None


def last_recorded(history: pd.DataFrame | None) -> None:
    """The project's last recorded retrain, whoever ran it (this app, another process, ``orchestrate``)."""
    if history is None or len(history) == 0:
        return
    row = history.iloc[-1]
    fields = row.to_dict()
    source = next((str(fields[k]) for k in SOURCE_FIELDS if k in fields and _present(fields[k])), None)
    when = fields.get("time")
    when_text = pd.Timestamp(when).strftime("%Y-%m-%d %H:%M:%S UTC") if _present(when) else "unknown time"
    score = fields.get("score")
    metric = fields.get("metric") if _present(fields.get("metric")) else "score"
    score = pd.to_numeric(pd.Series([score]), errors="coerce").iloc[0]  # free-form JSON: maybe text
    score_text = f"{float(score):.3f}" if _present(score) else "n/a"
    n_labels = pd.to_numeric(pd.Series([fields.get("n_labels")]), errors="coerce").iloc[0]
    labels_text = f"{int(n_labels):,} labels" if _present(n_labels) else "? labels"
    by = f" by **{text_label(source)}**" if source else ""
    st.markdown(
        f"**Last recorded retrain**{by}: {when_text} · {labels_text} · cross-validated {text_label(metric)} {score_text}"
        + (f" · {text_label(fields['model'])}" if _present(fields.get("model")) else "")
        + f" ({len(history):,} retrain(s) in the history)"
    )
    skip = {"time", "n_labels", "score", "metric", "model", *SOURCE_FIELDS, *ESTIMATE_KEYS}  # the headline shows them
    shown = {k: v for k, v in fields.items() if k not in skip and _present(v)}
    if shown:
        st.caption(" · ".join(text_label(f"{k.replace('_', ' ')}: {format_value(v, digits=3)}") for k, v in shown.items()))



def settings_form(project: Project) -> None:
    settings = project.store.settings
    model_names = models_for(settings.feature_kind)
    if settings.model not in model_names:
        model_names = [settings.model, *model_names] if settings.model in MODELS else model_names
    strategies, strategy_index = strategy_options(settings.strategy)
    with st.form("model_settings", border=True):
        model = st.selectbox(
            "Model",
            model_names,
            index=model_names.index(settings.model) if settings.model in model_names else 0,
            format_func=model_label,
            key=S.MODEL_CHOICE,
        )
        strategy = st.selectbox(
            "Strategy (which items come next)",
            strategies,
            index=strategy_index,
            format_func=_strategy_label,
            key=S.MODEL_STRATEGY,
        )
        shuffle = st.slider(
            "Shuffle proportion",
            0.0,
            1.0,
            float(settings.shuffle_prop),
            step=0.05,
            key=S.MODEL_SHUFFLE,
            help="Share of the order shuffled after each retrain (some random items keep the model honest).",
        )
        auto = st.toggle("Retrain automatically", value=bool(settings.retrain_every), key=S.MODEL_AUTO)
        every = st.number_input(
            "… every N new labels",
            min_value=1,
            max_value=100_000,
            value=int(settings.retrain_every or 20),
            step=1,
            key=S.MODEL_EVERY,
        )
        if st.form_submit_button("Save settings", key=S.MODEL_SAVE):
            if strategy is None and settings.strategy == DEFAULT_STRATEGY:
                strategy = settings.strategy  # the same choice, shown once: the stored name stays
            try:
                project.store.update_settings(
                    model=model, strategy=strategy, shuffle_prop=float(shuffle), retrain_every=int(every) if auto else None
                )
            except (StoreError, ValueError) as exc:
                say("error", exc)
            else:
                st.success("Settings saved; they apply from the next retrain.")


#: One line under the chart: why the cross-validated score is secondary.
CV_READS_LOW = (
    "Cross-validation scores the model on the labels collected so far; active learning picks the items the "
    "model finds hard, so that score reads low. The estimate rests on items drawn at random instead."
)
ESTIMATE_SERIES = "estimated accuracy (90 % interval)"
CV_SERIES = "cross-validated score"
ESTIMATE_COLOUR, CV_COLOUR = "#1f77b4", "#9a9a9a"


def estimate_headline(project: Project, history: pd.DataFrame | None) -> None:
    """What the model's accuracy is estimated to be, what that rests on, and whether to keep labelling."""
    if history is None:
        return
    summary = latest_estimate(history)
    st.subheader(text_label(summary.headline))
    st.caption(text_label(summary.basis))
    if getattr(project.store.settings, "audit_share", None) == 0:
        st.caption("The estimate is turned off for this project (audit share 0 in its settings): "
                   "no items are drawn at random, so no accuracy can be estimated.")
    if len(history) == 0:
        return
    advice = when_to_stop(history)
    if advice.stop is True:
        st.success(text_label(advice.sentence), icon=":material/flag:")
    elif advice.stop is False:
        icon = ":material/trending_up:" if (advice.gain or 0) > 0 else ":material/trending_down:"
        st.info(text_label(advice.sentence), icon=icon)
    else:
        st.caption(text_label(advice.sentence))


def accuracy_chart(history: pd.DataFrame | None) -> None:
    """The estimate and its band against labels, the cross-validated score thin and grey; one point per label count."""
    st.subheader("Accuracy versus labels")
    curve = estimate_curve(history)
    estimated = curve.dropna(subset=["estimate"])
    scored = curve.dropna(subset=["score"])
    if len(estimated) == 0 and len(scored) == 0:
        st.caption("The chart appears after the first retrain with a score.")
        return
    lines = pd.concat([
        pd.DataFrame({"n_labels": estimated["n_labels"], "value": estimated["estimate"],
                      "low": estimated["estimate_low"], "high": estimated["estimate_high"],
                      "series": ESTIMATE_SERIES}),
        pd.DataFrame({"n_labels": scored["n_labels"], "value": scored["score"], "low": float("nan"),
                      "high": float("nan"), "series": CV_SERIES}),
    ], ignore_index=True)
    x = alt.X("n_labels:Q", title="labels", axis=alt.Axis(format="d", tickMinStep=1),
              scale=alt.Scale(zero=False, nice=False, padding=12))
    y_scale = alt.Scale(domain=[0, 1])
    series = alt.Color("series:N", title=None, legend=alt.Legend(orient="top", labelLimit=0),
                       scale=alt.Scale(domain=[ESTIMATE_SERIES, CV_SERIES], range=[ESTIMATE_COLOUR, CV_COLOUR]))
    tooltip = [alt.Tooltip("series:N", title="what"), alt.Tooltip("n_labels:Q", title="labels", format="d"),
               alt.Tooltip("value:Q", format=".1%"), alt.Tooltip("low:Q", title="90 % from", format=".1%"),
               alt.Tooltip("high:Q", title="90 % to", format=".1%")]
    band = alt.Chart(lines[lines["series"] == ESTIMATE_SERIES].dropna(subset=["low", "high"])).mark_area(
        opacity=0.2, color=ESTIMATE_COLOUR
    ).encode(x=x, y=alt.Y("low:Q", scale=y_scale), y2="high:Q")
    drawn = alt.Chart(lines).mark_line(point=True).encode(
        x=x,
        y=alt.Y("value:Q", title="accuracy", scale=y_scale, axis=alt.Axis(format="%")),
        color=series,
        strokeWidth=alt.StrokeWidth("series:N", legend=None,
                                    scale=alt.Scale(domain=[ESTIMATE_SERIES, CV_SERIES], range=[3, 1.5])),
        strokeDash=alt.StrokeDash("series:N", legend=None,
                                  scale=alt.Scale(domain=[ESTIMATE_SERIES, CV_SERIES], range=[[1, 0], [4, 3]])),
        tooltip=tooltip,
    )
    st.altair_chart(band + drawn, width="stretch")
    st.caption(CV_READS_LOW)
    if len(estimated) == 0:
        st.caption("No retrain has an accuracy estimate yet: only the cross-validated score is drawn.")
        return
    before = curve[curve["n_labels"] < estimated["n_labels"].iloc[0]]
    if len(before):  # why the estimate's line starts later than the score's
        note = before["estimate_note"].iloc[-1]
        why = f" At {int(before['n_labels'].iloc[-1]):,} labels: {note}" if note else ""
        st.caption(text_label(f"The estimate starts at {int(estimated['n_labels'].iloc[0]):,} labels.{why}"))


def label_counts(project: Project) -> None:
    st.subheader("Labels per class")
    per_class = project.store.progress().per_class
    if not per_class:
        st.caption("No classes yet.")
        return
    if not any(per_class.values()):
        st.caption("No labels yet.")
        return
    data = pd.DataFrame({"class": list(per_class), "labels": list(per_class.values())})
    chart = alt.Chart(data).mark_bar().encode(
        x=alt.X("class:N", sort=list(per_class), title=None),
        y=alt.Y("labels:Q", axis=alt.Axis(format="d", tickMinStep=1)),  # counts: whole ticks
        tooltip=["class", "labels"],
    )
    st.altair_chart(chart, width="stretch")


def confusion_matrix(project: Project) -> None:
    st.subheader("Confusion matrix (cross-validated)")
    snapshot = project.scheduler.snapshot
    if snapshot is None or snapshot.result.cv_predictions is None:
        st.caption("Appears after a retrain with cross-validation (single-label projects).")
        return
    table = pd.crosstab(
        pd.Series(snapshot.y, name="label"), pd.Series(snapshot.opinions, name="predicted")
    ).stack().rename("count").reset_index()
    base = alt.Chart(table).encode(
        x=alt.X("predicted:N", title="predicted"), y=alt.Y("label:N", title="label")
    )
    chart = base.mark_rect().encode(color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"))) + base.mark_text().encode(
        text="count:Q"
    )
    st.altair_chart(chart, width="stretch")


guard("model")
project = require_project()
st.title("Model")
headline = st.container()  # drawn first, filled after a retrain this run may do
left, right = st.columns([1, 1])
with left:
    if st.button("Retrain now", key=S.MODEL_RETRAIN, type="primary"):
        retrain(project)
    last_retrain(project)
history = read_history(project)
with left:
    last_recorded(history)
with right:
    settings_form(project)
with headline:
    estimate_headline(project, history)
accuracy_chart(history)
counts, matrix = st.columns(2)
with counts:
    label_counts(project)
with matrix:
    confusion_matrix(project)
compare_strategies(project)
finish.render(project)
