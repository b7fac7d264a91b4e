"""StateCLI: LightningCLI's command line (subcommands, config files, class_path) for statetrainer."""
from __future__ import annotations

import functools
import types
import warnings
from typing import Any, Callable, Optional, Union

from torch.optim import Optimizer

from statetrainer.cli import optimizers as optim
from statetrainer.cli.checkpoint_hparams import checkpoint_model_config
from statetrainer.cli.dependency import jsonargparse
from statetrainer.cli.known_classes import import_known_classes
from statetrainer.cli.parser import StateArgumentParser
from statetrainer.cli.save_config import SaveConfigCallback
from statetrainer.cli.trainer_arguments import SUBCOMMAND_ARGUMENTS, subcommand_description
from statetrainer.data.datamodule import DataModule
from statetrainer.errors import MisconfigurationError
from statetrainer.module.module import StateModule
from statetrainer.seed import seed_everything
from statetrainer.trainer.flags import FLAG_HELP
from statetrainer.trainer.trainer import Trainer

__all__ = ["StateCLI"]

ArgsType = Optional[Union[list, dict, Any]]


class StateCLI:
    """Build a model, a data module and a Trainer from the command line or config files, then run them.

    ``StateCLI(MyModel, MyDataModule)`` gives ``fit`` / ``validate`` / ``test`` / ``predict``
    subcommands with ``--config`` files, ``--print_config``, dotted overrides
    (``--trainer.max_epochs=2``, ``--model.hidden=16``) and ``class_path``/``init_args``, as
    Lightning's LightningCLI does; ``run=False`` only builds ``cli.model``, ``cli.datamodule`` and
    ``cli.trainer``. See docs/cli.md.
    """

    def __init__(self, model_class: Optional[Union[type, Callable[..., StateModule]]] = None,
                 datamodule_class: Optional[Union[type, Callable[..., DataModule]]] = None,
                 save_config_callback: Optional[type] = SaveConfigCallback,
                 save_config_kwargs: Optional[dict] = None,
                 trainer_class: Union[type, Callable[..., Trainer]] = Trainer,
                 trainer_defaults: Optional[dict] = None, seed_everything_default: Union[bool, int] = True,
                 parser_kwargs: Optional[dict] = None, parser_class: type = StateArgumentParser,
                 subclass_mode_model: bool = False, subclass_mode_data: bool = False, args: ArgsType = None,
                 run: bool = True, auto_configure_optimizers: bool = True,
                 load_from_checkpoint_support: bool = True) -> None:
        self.save_config_callback = save_config_callback
        self.save_config_kwargs = save_config_kwargs or {}
        self.trainer_class = trainer_class
        self.trainer_defaults = trainer_defaults or {}
        self.seed_everything_default = seed_everything_default
        self.parser_kwargs = parser_kwargs or {}
        self.parser_class = parser_class
        self.auto_configure_optimizers = auto_configure_optimizers
        self.load_from_checkpoint_support = load_from_checkpoint_support
        self.model_class = model_class
        self._model_class = model_class or StateModule
        self.subclass_mode_model = model_class is None or subclass_mode_model
        self.datamodule_class = datamodule_class
        self._datamodule_class = datamodule_class or DataModule
        self.subclass_mode_data = datamodule_class is None or subclass_mode_data
        self.parser: Any = None
        self.config: Any = None
        self.config_init: Any = None
        self.subcommand: Optional[str] = None
        self.model: Any = None
        self.datamodule: Any = None
        self.trainer: Any = None
        self._subcommand_parsers: dict[str, Any] = {}
        self._subcommand_method_arguments: dict[str, list[str]] = {}
        self._start(args, run)

    def _start(self, args: ArgsType, run: bool) -> None:
        import_known_classes()
        main_kwargs, subcommand_kwargs = self._split_parser_kwargs(self.parser_kwargs)
        self.setup_parser(run, main_kwargs, subcommand_kwargs)
        self.parse_arguments(self.parser, args)
        self.subcommand = self.config["subcommand"] if run else None
        if self.subcommand is not None:
            self.config = checkpoint_model_config(self.parser, self.config, self.subcommand, self.subclass_mode_model)
        self._set_seed()
        self.before_instantiate_classes()
        self.instantiate_classes()
        self.after_instantiate_classes()
        if self.subcommand is not None:
            self._run_subcommand(self.subcommand)

    # ------------------------------------------------------------------ parser
    def _split_parser_kwargs(self, parser_kwargs: dict) -> tuple[dict, dict]:
        names = self.subcommands()
        main = {key: value for key, value in parser_kwargs.items() if key not in names}
        per_subcommand = {key: value for key, value in parser_kwargs.items() if key in names}
        return main, per_subcommand

    def init_parser(self, **kwargs: Any) -> StateArgumentParser:
        """A new parser with ``-c/--config``; `kwargs` go to the parser class."""
        from statetrainer import __version__
        kwargs.setdefault("dump_header", [f"statetrainer=={__version__}"])
        parser = self.parser_class(**kwargs)
        parser.add_argument("-c", "--config", action=jsonargparse().ActionConfigFile,
                            help="a YAML or JSON config file; give it several times to merge them in order")
        return parser

    def setup_parser(self, add_subcommands: bool, main_kwargs: dict, subparser_kwargs: dict) -> None:
        """The main parser, with one subparser per subcommand (or the options directly when run=False)."""
        self.parser = self.init_parser(**main_kwargs)
        if add_subcommands:
            self._add_subcommands(self.parser, **subparser_kwargs)
        else:
            self._add_arguments(self.parser)

    def add_default_arguments_to_parser(self, parser: StateArgumentParser) -> None:
        """``--seed_everything``."""
        parser.add_argument("--seed_everything", type=Union[bool, int], default=self.seed_everything_default,
                            help="seed every random generator with this int before anything is built; true: use "
                                 "PL_GLOBAL_SEED or 0, false: do not seed")

    def add_core_arguments_to_parser(self, parser: StateArgumentParser) -> None:
        """The ``trainer``, ``model`` and ``data`` option groups."""
        parser.add_lightning_class_args(self.trainer_class, "trainer")
        parser.set_defaults({f"trainer.{key}": value for key, value in self.trainer_defaults.items()
                             if key != "callbacks"})
        parser.add_lightning_class_args(self._model_class, "model", subclass_mode=self.subclass_mode_model)
        parser.add_lightning_class_args(self._datamodule_class, "data", subclass_mode=self.subclass_mode_data,
                                        required=self.datamodule_class is not None)

    def add_arguments_to_parser(self, parser: StateArgumentParser) -> None:
        """Override to add options or ``parser.link_arguments(...)``."""

    def _add_arguments(self, parser: StateArgumentParser) -> None:
        self.add_default_arguments_to_parser(parser)
        self.add_core_arguments_to_parser(parser)
        self.add_arguments_to_parser(parser)
        if self.auto_configure_optimizers:
            if not parser._optimizers:
                parser.add_optimizer_args((Optimizer,))
            if not parser._lr_schedulers:
                parser.add_lr_scheduler_args(optim.LR_SCHEDULER_TYPES)
        self.link_optimizers_and_lr_schedulers(parser)

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """The subcommands and the trainer-method arguments the config provides instead of the command line."""
        return {"fit": {"model", "train_dataloaders", "val_dataloaders", "datamodule"},
                "validate": {"model", "dataloaders", "datamodule"},
                "test": {"model", "dataloaders", "datamodule"},
                "predict": {"model", "dataloaders", "datamodule"}}

    def _add_subcommands(self, parser: StateArgumentParser, **kwargs: Any) -> None:
        subcommands = parser.add_subcommands()
        for name in self.subcommands():
            description = subcommand_description(self.trainer_class, name)
            sub_kwargs = dict(kwargs.get(name, {}))
            sub_kwargs.setdefault("description", description)
            subparser = self._prepare_subcommand_parser(self.trainer_class, name, **sub_kwargs)
            self._subcommand_parsers[name] = subparser
            subcommands.add_subcommand(name, subparser, help=description)

    def _prepare_subcommand_parser(self, klass: Any, subcommand: str, **kwargs: Any) -> StateArgumentParser:
        parser = self.init_parser(**kwargs)
        self._add_arguments(parser)
        added = []
        for name, annotation, default, help_text in SUBCOMMAND_ARGUMENTS.get(subcommand, ()):
            if name not in self.subcommands()[subcommand]:
                parser.add_argument(f"--{name}", type=annotation, default=default, help=help_text)
                added.append(name)
        self._subcommand_method_arguments[subcommand] = added
        return parser

    @staticmethod
    def link_optimizers_and_lr_schedulers(parser: StateArgumentParser) -> None:
        """Link each optimizer/scheduler group added with a ``link_to`` key to that key."""
        for key, (classes, link_to) in {**parser._optimizers, **parser._lr_schedulers}.items():
            if link_to == "AUTOMATIC":
                continue
            if isinstance(classes, tuple):
                parser.link_arguments(key, link_to)
            else:
                parser.link_arguments(key, link_to, compute_fn=functools.partial(optim.with_class_path, classes))

    def parse_arguments(self, parser: StateArgumentParser, args: ArgsType) -> None:
        """Parse `args` (a list of strings, a dict or a Namespace; sys.argv when None) into ``self.config``."""
        if isinstance(args, (dict, jsonargparse().Namespace)):
            self.config = parser.parse_object(args)
        else:
            self.config = parser.parse_args(args)

    # ------------------------------------------------------------------ building
    def before_instantiate_classes(self) -> None:
        """Override to run code after parsing and before anything is built."""

    def instantiate_classes(self) -> None:
        """Build the model, the data module, the optimizers (when given as options) and the trainer."""
        instantiate = getattr(self.parser, "instantiate", None) or self.parser.instantiate_classes
        self.config_init = instantiate(self.config)
        self.datamodule = self._get(self.config_init, "data")
        self.model = self._get(self.config_init, "model")
        self._add_configure_optimizers_method_to_model(self.subcommand)
        self.trainer = self.instantiate_trainer()

    def after_instantiate_classes(self) -> None:
        """Override to run code after everything is built and before the subcommand runs."""

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """The trainer from the ``trainer`` options (`kwargs` override them) plus the callbacks the CLI adds."""
        extra = [self._get(self.config_init, key) for key in self._parser(self.subcommand).callback_keys]
        options = self._get(self.config_init, "trainer", default={})
        config = {**_plain(options), **kwargs}
        return self._instantiate_trainer(config, extra)

    def _instantiate_trainer(self, config: dict, callbacks: list) -> Trainer:
        if "callbacks" not in config:
            warnings.warn(f"{getattr(self.trainer_class, '__qualname__', self.trainer_class)} takes no `callbacks`; "
                          "the CLI's own callbacks (config saving, callback option groups) are left out.")
        else:
            config["callbacks"] = self._all_callbacks(config["callbacks"], callbacks, config)
        try:
            return self.trainer_class(**config)
        except MisconfigurationError as error:
            self._refuse(error)

    def _all_callbacks(self, given: Any, extra: list, config: dict) -> list:
        listed = [] if given is None else list(given) if isinstance(given, (list, tuple)) else [given]
        listed.extend(extra)
        defaults = self.trainer_defaults.get("callbacks")
        if defaults is not None:
            listed.extend(defaults if isinstance(defaults, (list, tuple)) else [defaults])
        if self.save_config_callback and not config.get("fast_dev_run", False):
            parser = self._parser(self.subcommand)
            config_of_run = self.config.get(str(self.subcommand), self.config)
            listed.append(self.save_config_callback(parser, config_of_run, **self.save_config_kwargs))
        return listed

    def _refuse(self, error: Exception):
        """A trainer flag the Trainer refused: one line and exit 2 from the command line, else re-raise."""
        parser = self._parser(self.subcommand)
        if not parser.exit_on_error:
            raise error
        text = str(error)
        for flag in FLAG_HELP:
            text = text.replace(f"`{flag}`", f"--trainer.{flag}")
        parser.error(text)

    def _parser(self, subcommand: Optional[str]) -> StateArgumentParser:
        return self.parser if subcommand is None else self._subcommand_parsers[subcommand]

    def _get(self, config: Any, key: str, default: Any = None) -> Any:
        """`key` from the subcommand's part of `config` (or from `config` itself without subcommands)."""
        return config.get(str(self.subcommand), config).get(key, default)

    # ------------------------------------------------------------------ optimizers
    @staticmethod
    def configure_optimizers(lightning_module: StateModule, optimizer: Optimizer,
                             lr_scheduler: Any = None) -> Any:
        """What the model's configure_optimizers returns when ``--optimizer`` is given; override to change it."""
        return optim.default_configure_optimizers(optimizer, lr_scheduler)

    def _add_configure_optimizers_method_to_model(self, subcommand: Optional[str]) -> None:
        """Give the model a configure_optimizers that builds the ``--optimizer`` / ``--lr_scheduler`` options."""
        if not self.auto_configure_optimizers:
            return
        parser = self._parser(subcommand)
        optimizer_keys = optim.automatic_keys(parser._optimizers, Optimizer)
        scheduler_keys = optim.automatic_keys(parser._lr_schedulers, optim.LR_SCHEDULER_TYPES)
        if not optimizer_keys:
            return
        if len(optimizer_keys) > 1 or len(scheduler_keys) > 1:
            raise MisconfigurationError(
                f"{type(self).__name__} found several automatic optimizer/scheduler groups "
                f"{optimizer_keys + scheduler_keys}; accepted: at most one of each, or give the others a link_to "
                "and write configure_optimizers yourself.")
        optimizer_init = optim.as_init(self._get(self.config_init, optimizer_keys[0]),
                                       parser._optimizers[optimizer_keys[0]][0])
        if not optimizer_init:
            return
        scheduler_init = None
        if scheduler_keys:
            scheduler_init = optim.as_init(self._get(self.config_init, scheduler_keys[0]),
                                           parser._lr_schedulers[scheduler_keys[0]][0])
        self._install_optimizers(optimizer_init, scheduler_init)

    def _install_optimizers(self, optimizer_init: dict, scheduler_init: Optional[dict]) -> None:
        if optim.module_overrides(self.model, "configure_optimizers"):
            warnings.warn(f"`{type(self.model).__name__}.configure_optimizers` is replaced by "
                          f"`{type(self).__name__}.configure_optimizers` because --optimizer was given.")
        optimizer = optim.instantiate_class(self.model.parameters(), optimizer_init)
        scheduler = optim.instantiate_class(optimizer, scheduler_init) if scheduler_init else None
        configure = functools.partial(self.configure_optimizers, optimizer=optimizer, lr_scheduler=scheduler)
        functools.update_wrapper(configure, self.configure_optimizers)
        self.model.configure_optimizers = types.MethodType(configure, self.model)

    # ------------------------------------------------------------------ running
    def _run_subcommand(self, subcommand: str) -> None:
        """before_<subcommand>(), the trainer method (or this CLI's method of that name), after_<subcommand>()."""
        before = getattr(self, f"before_{subcommand}", None)
        if callable(before):
            before()
        method = getattr(self, subcommand, None) or getattr(self.trainer, subcommand)
        method(**self._prepare_subcommand_kwargs(subcommand))
        after = getattr(self, f"after_{subcommand}", None)
        if callable(after):
            after()

    def _prepare_subcommand_kwargs(self, subcommand: str) -> dict:
        """The method's options from the config, plus the model and the data module."""
        given = self.config_init[subcommand]
        kwargs = {name: given.get(name) for name in self._subcommand_method_arguments[subcommand]}
        kwargs["model"] = self.model
        if self.datamodule is not None:
            kwargs["datamodule"] = self.datamodule
        return kwargs

    def _set_seed(self) -> None:
        """Seed as ``--seed_everything`` asks and write the seed used back into the config."""
        seed = self._get(self.config, "seed_everything")
        if seed is False:
            return
        # True: PL_GLOBAL_SEED when set, else 0 (Lightning's CLI gives the same), without seed_everything's
        # "no seed" warning: asking for True is not forgetting the seed
        used = seed_everything(None if seed is True else seed, workers=True, verbose=seed is not True)
        if self.subcommand:
            self.config[self.subcommand]["seed_everything"] = used
        else:
            self.config["seed_everything"] = used


def _plain(options: Any) -> dict:
    """The top level of a parsed option group as a dict (nested groups stay Namespaces' dicts)."""
    if options is None:
        return {}
    if isinstance(options, dict):
        return dict(options)
    return {key: (value.as_dict() if hasattr(value, "as_dict") else value) for key, value in vars(options).items()}
