"""The metric book as a listener of the loop's hooks: it is told where the loops are by the same hooks
the callbacks see, attached to the dispatcher before or after the user's listeners.

    on_train_start          before: a training run begins
    on_train_batch_start    before: a batch opens (self.log in the hook lands in it)
    on_train_batch_end      after:  the batch closes (step metrics may go to the loggers)
    on_train_epoch_end      before: the epoch's values are final; after: epoch metrics are reduced
    on_train_end            after:  the run closes
    on_{validation,test,predict}_{start,batch_start,batch_end,epoch_end,end}: the same for evaluations
"""
from __future__ import annotations

__all__ = ["attach_metric_book"]

_EVAL_KINDS = ("validation", "test", "predict")


def attach_metric_book(dispatch, book, position, run) -> None:
    """Connect `book` to `dispatch`; `run` is the session's RunRecord (its `evaluation` is current)."""
    _attach_training(dispatch, book, position)
    for kind in _EVAL_KINDS:
        _attach_evaluation(dispatch, book, position, run, kind)


def _attach_training(dispatch, book, p) -> None:
    def run_starts() -> None:
        book.begin_run("train")

    def batch_closes(outputs, batch, batch_idx) -> None:
        book.end_batch("train", p.global_step, p.epoch, p.is_last_batch, stepped=p.batch_stepped)

    def epoch_values_final() -> None:
        book.epoch_end_reached("train")

    def epoch_closes() -> None:
        book.end_epoch("train", p.global_step, p.epoch)

    def run_ends() -> None:
        book.end_run("train")

    dispatch.attach("on_train_start", run_starts, before=True)
    dispatch.attach("on_train_batch_start", book.begin_batch, before=True)  # (batch, batch_idx): its defaults fit
    dispatch.attach("on_train_batch_end", batch_closes)
    dispatch.attach("on_train_epoch_end", epoch_values_final, before=True)
    dispatch.attach("on_train_epoch_end", epoch_closes)
    dispatch.attach("on_train_end", run_ends)


def _attach_evaluation(dispatch, book, p, run, kind: str) -> None:
    def run_starts() -> None:
        book.begin_run(run.evaluation.stage)

    def batch_opens(batch, batch_idx, dataloader_idx=0) -> None:
        book.begin_batch(batch, batch_idx, dataloader_idx, len(run.evaluation.cursor.loaders))

    def batch_closes(outputs, batch, batch_idx, dataloader_idx=0) -> None:
        evaluation = run.evaluation
        book.end_batch(evaluation.stage, p.global_step, p.epoch, evaluation.cursor.at_last_of_loader())

    def epoch_values_final() -> None:
        book.epoch_end_reached(run.evaluation.stage)

    def epoch_closes() -> None:
        evaluation = run.evaluation
        evaluation.set_results(book.end_epoch(evaluation.stage, p.global_step, p.epoch))

    def run_ends() -> None:
        book.end_run(run.evaluation.stage)

    dispatch.attach(f"on_{kind}_start", run_starts, before=True)
    dispatch.attach(f"on_{kind}_batch_start", batch_opens, before=True)
    dispatch.attach(f"on_{kind}_batch_end", batch_closes)
    dispatch.attach(f"on_{kind}_epoch_end", epoch_values_final, before=True)
    dispatch.attach(f"on_{kind}_epoch_end", epoch_closes)
    dispatch.attach(f"on_{kind}_end", run_ends)
