"""Load the YAML configuration file into ``WatchkeeperConfig`` with precise, redacted errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from watchkeeper.config.errors import ConfigError, ConfigProblem
from watchkeeper.config.problems import problems_from_validation
from watchkeeper.config.root import WatchkeeperConfig
from watchkeeper.config.secretrefs import resolve_secret_refs, scrub
from watchkeeper.config.secrets import redact_url


def load_config(path: Path) -> WatchkeeperConfig:
    """Read, parse and validate a configuration file.

    Relative storage paths are resolved against the folder of ``path``; ``${secret:NAME}`` references are
    resolved from the encrypted ``secrets.enc`` in that folder (see :mod:`watchkeeper.config.secretrefs`).

    Args:
        path: The YAML file.

    Returns:
        The validated configuration.

    Raises:
        ConfigError: The file is missing, unreadable, not YAML, empty, not a mapping or invalid; the
            message has one ``file:line: key.path: problem`` line per problem.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise _single(source, "file not found") from err
    except IsADirectoryError as err:
        raise _single(source, "is a folder, expected a YAML file") from err
    except UnicodeDecodeError as err:
        raise _single(source, f"not valid UTF-8 text (byte {err.start})") from err
    except OSError as err:
        raise _single(source, f"cannot read file: {err.strerror or err}") from err
    return parse_config_text(text, source=source, base_dir=path.absolute().parent)


def parse_config_text(text: str, *, source: str, base_dir: Path) -> WatchkeeperConfig:
    """Parse and validate configuration YAML held in memory.

    Args:
        text: The YAML document.
        source: The name to show in error messages (usually the file path).
        base_dir: The folder relative storage paths resolve against, and where ``secrets.enc`` lives.

    Returns:
        The validated configuration, with absolute storage paths.

    Raises:
        ConfigError: The text is not YAML, empty, not a mapping or invalid, or a secret reference cannot
            be resolved.
    """
    root, data = _parse_yaml(text, source)
    resolved = resolve_secret_refs(data, root, source, base_dir)
    try:
        config = WatchkeeperConfig.model_validate(resolved.data)
    except ValidationError as err:
        raise ConfigError(scrub(problems_from_validation(err, root, source), resolved.values)) from None
    return config.with_base_dir(base_dir)


def _parse_yaml(text: str, source: str) -> tuple[yaml.Node, dict[str, Any]]:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise _single(source, "file is empty (expected a mapping with sections such as 'cameras:')")
        _check_duplicate_keys(root, source)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as err:
        raise _yaml_problem(err, source) from None
    except yaml.YAMLError as err:
        raise _single(source, f"YAML error: {redact_url(str(err))}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        line = int(root.start_mark.line) + 1
        raise ConfigError(
            [ConfigProblem(source, line, "", f"top level must be a mapping of sections (got {kind})")]
        )
    return root, data


def _yaml_problem(err: yaml.MarkedYAMLError, source: str) -> ConfigError:
    mark = err.problem_mark or err.context_mark
    line = int(mark.line) + 1 if mark is not None else None
    parts = [part for part in (err.context, err.problem) if part]
    detail = ", ".join(parts) if parts else "invalid YAML"
    return ConfigError([ConfigProblem(source, line, "", f"YAML syntax error: {redact_url(detail)}")])


def _check_duplicate_keys(node: yaml.Node, source: str) -> None:
    """Reject mappings that repeat a key (PyYAML would silently keep the last one)."""
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item, source)
    elif isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                line = int(key_node.start_mark.line) + 1
                if key_node.value in seen:
                    message = f"duplicate key {key_node.value!r} (first at line {seen[key_node.value]})"
                    raise ConfigError([ConfigProblem(source, line, "", message)])
                seen[key_node.value] = line
            _check_duplicate_keys(value_node, source)


def _single(source: str, message: str) -> ConfigError:
    return ConfigError([ConfigProblem(source, None, "", message)])
