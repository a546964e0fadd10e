"""The profile catalog: parsing and validating the profiles admins declare in Git."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from .models import GroupNaming, Profile, Size
from .problems import Checker, parse_text
from .quantities import parse_count, parse_cpu, parse_memory, parse_name

_PROFILE_REQUIRED = {"slug", "display_name", "image", "sizes"}
_PROFILE_OPTIONAL = {"description", "tags", "groups", "default", "course_only"}
_SIZE_REQUIRED = {"slug", "cpu_guarantee", "cpu_limit", "mem_guarantee", "mem_limit"}
_SIZE_OPTIONAL = {"display_name", "gpu"}
# A repository reference (registry host with an optional port, then the path), no tag.
_IMAGE = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:\d+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*\Z")
# Course profiles are named <course>--<profile>: a catalog slug must not look like one.
COURSE_SEPARATOR = "--"
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
Parser = Callable[[object], int]


def parse_catalog(check: Checker, groups: GroupNaming, raw: object) -> tuple[Profile, ...]:
    key = "UnilimSpawner.profile_catalog"
    items = check.items(key, raw)
    profiles = [
        profile for item_key, item in items if (profile := _profile(check, groups, item_key, item))
    ]
    _unique(check, key, _slugs(items), "profile.duplicate")
    entries = [item for _, item in items if isinstance(item, Mapping)]
    defaults = [str(entry.get("slug")) for entry in entries if entry.get("default") is True]
    if len(defaults) > 1:
        check.add(key, "profile.several_defaults", profiles=", ".join(defaults))
    return tuple(profiles)


def _slugs(items: list[tuple[str, object]]) -> list[str]:
    """The slugs the entries give, judged on the raw entries so that an entry with another
    mistake still counts; an entry without a slug is told as such, not as a duplicate."""
    return [str(item["slug"]) for _, item in items if isinstance(item, Mapping) and "slug" in item]


def _unique(check: Checker, key: str, slugs: list[str], code: str) -> None:
    seen: set[str] = set()
    for slug in slugs:
        if slug in seen:
            check.add(key, code, slug=slug)
        seen.add(slug)


def _profile(check: Checker, groups: GroupNaming, key: str, raw: object) -> Profile | None:
    fields = check.fields(key, raw, _PROFILE_REQUIRED, _PROFILE_OPTIONAL)
    if fields is None:
        return None
    slug = check.field(key, "slug", parse_name, fields)
    if slug and COURSE_SEPARATOR in slug:
        check.add(f"{key}.slug", "profile.slug_separator", slug=slug, separator=COURSE_SEPARATOR)
    image, tags = _image_and_tags(check, key, fields)
    size_items = check.items(f"{key}.sizes", fields.get("sizes", []))
    if "sizes" in fields and not size_items:
        check.add(f"{key}.sizes", "value.empty")
    sizes = [
        size for size_key, item in size_items if (size := _size(check, size_key, item)) is not None
    ]
    _unique(check, f"{key}.sizes", _slugs(size_items), "size.duplicate")
    allowed = _groups(check, groups, key, fields)
    flags = {
        name: _flag(check, f"{key}.{name}", fields.get(name, False))
        for name in ("default", "course_only")
    }
    if slug is None or image is None:
        return None
    return Profile(
        slug=slug,
        display_name=parse_text(check, f"{key}.display_name", fields.get("display_name"), slug),
        description=parse_text(check, f"{key}.description", fields.get("description")),
        image=image,
        tags=tags,
        sizes=tuple(sizes),
        groups=allowed,
        **flags,
    )


def _image_and_tags(
    check: Checker, key: str, fields: Mapping[str, object]
) -> tuple[str | None, tuple[str, ...]]:
    """The repository and its allowed tags; ``image: repo:tag`` alone allows just that tag."""
    image = fields.get("image")
    if not isinstance(image, str) or not image:
        if "image" in fields:
            check.add(f"{key}.image", "value.empty")
        return None, ()
    # A tag follows the last ':' of the last path segment (a registry port is no tag).
    repository, tag = image.rsplit(":", 1) if ":" in image.rpartition("/")[2] else (image, "")
    raw_tags = fields.get("tags", [tag] if tag else [])
    if tag and "tags" in fields:
        check.add(f"{key}.image", "image.tag_and_tags", image=image)
    if not _IMAGE.match(repository):
        check.add(f"{key}.image", "image.invalid", image=image)
    tags = tuple(raw_tags) if isinstance(raw_tags, list | tuple) else ()
    if not tags:
        check.add(f"{key}.tags", "image.no_tags", image=image)
    for index, item in enumerate(tags):
        # A string: YAML reads an unquoted 1.10 as the number 1.1.
        if not isinstance(item, str) or not _TAG.match(item):
            check.add(f"{key}.tags[{index}]", "image.tag_invalid", tag=repr(item))
    return repository, tags


def _groups(
    check: Checker, groups: GroupNaming, key: str, fields: Mapping[str, object]
) -> frozenset[str]:
    raw = fields.get("groups", [])
    if not isinstance(raw, list | tuple):
        check.add(f"{key}.groups", "value.not_list", value=repr(raw))
        return frozenset()
    names = [
        check.known_group(groups, f"{key}.groups[{index}]", group)
        for index, group in enumerate(raw)
    ]
    if not raw and not fields.get("course_only"):
        check.add(f"{key}.groups", "profile.no_groups")
    return frozenset(names)


def _flag(check: Checker, key: str, raw: object) -> bool:
    if not isinstance(raw, bool):
        check.add(key, "value.not_boolean", value=repr(raw))
    return raw is True


def _size(check: Checker, key: str, raw: object) -> Size | None:
    fields = check.fields(key, raw, _SIZE_REQUIRED, _SIZE_OPTIONAL)
    if fields is None:
        return None
    slug = check.field(key, "slug", parse_name, fields)
    cpu = _guarantee_and_limit(check, key, fields, "cpu", parse_cpu)
    mem = _guarantee_and_limit(check, key, fields, "mem", parse_memory)
    # A wrong count is told; the size is then never used, whatever stands in for it.
    gpu = check.parse(f"{key}.gpu", parse_count, fields.get("gpu", 0)) or 0
    if slug is None or cpu is None or mem is None:
        return None
    return Size(
        slug=slug,
        display_name=parse_text(
            check, f"{key}.display_name", fields.get("display_name"), slug.capitalize()
        ),
        cpu_guarantee=cpu[0],
        cpu_limit=cpu[1],
        mem_guarantee=mem[0],
        mem_limit=mem[1],
        gpu=gpu,
    )


def _guarantee_and_limit(
    check: Checker, key: str, fields: Mapping[str, object], name: str, parser: Parser
) -> tuple[int, int] | None:
    """A size's guarantee and limit of one resource (``cpu``, ``mem``), both parsed, or ``None``."""
    guarantee = check.field(key, f"{name}_guarantee", parser, fields)
    limit = check.field(key, f"{name}_limit", parser, fields)
    if limit == 0:
        check.add(f"{key}.{name}_limit", "value.zero")
    if guarantee is None or limit is None:
        return None
    if guarantee > limit:
        check.add(f"{key}.{name}_guarantee", "size.guarantee_above_limit")
    return guarantee, limit
