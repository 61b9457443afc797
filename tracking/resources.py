"""Adding resources, shared by the aup_setup command and the admin's bulk-add form."""

from dataclasses import dataclass

from tracking.models import Resource

LOCAL_NAME = "localhost"
NAME_MAX_LENGTH = Resource._meta.get_field("name").max_length


def comma_list(value):
    """Split "a,b,c" into names; refuse empty and repeated items (ValueError)."""
    items = [item.strip() for item in value.split(",")]
    if not all(items):
        raise ValueError("empty item")
    if len(set(items)) != len(items):
        raise ValueError("repeated item")
    too_long = [item for item in items if len(item) > NAME_MAX_LENGTH]
    if too_long:
        raise ValueError(f"name longer than {NAME_MAX_LENGTH} characters")
    return items


comma_list.__name__ = "comma-separated list"


# In Auptimizer's order (aup.setupdb.sqlite.create_database): GPUs, nodes, AWS, CPU
# slots, passive, so that get_resource_type() lists the types as Auptimizer's does.
RESOURCE_TYPES = ("gpu", "node", "aws", "cpu", "passive")
# How many names of other CPU slots (the demo's, ...) a report line lists.
OTHER_NAMES_SHOWN = 3


@dataclass(frozen=True)
class TypeReport:
    """What add_resources found and did for one resource type: how many exist now
    (`in_all`), what it `added` (names; CPU slots are all LOCAL_NAME), and for CPU
    slots how many of other names (`others`, e.g. the demo's) it left out of the count."""

    type: str
    in_all: int
    added: tuple = ()
    others: int = 0
    other_names: tuple = ()

    def __str__(self):
        if self.type == "cpu":
            line = f"cpu: {self.in_all} slot(s) on {LOCAL_NAME} in all, {len(self.added) or 'none'} added"
            if self.others:
                names = ", ".join(self.other_names[:OTHER_NAMES_SHOWN])
                more = ", ..." if len(self.other_names) > OTHER_NAMES_SHOWN else ""
                line += f"; {self.others} cpu slot(s) of other names ({names}{more}) not counted"
            return line
        added = f"{len(self.added)} added: {', '.join(self.added)}" if self.added else "none added"
        return f"{self.type}: {self.in_all} in all, {added}"


def add_resources(cpu=0, gpu=(), node=(), aws=(), passive=False):
    """Create the resources that are missing, as Auptimizer's setup does; return a
    TypeReport for every type (in RESOURCE_TYPES' order), whose str() is one line that
    says what exists and what was added.

    `cpu` is the number of CPU slots on LOCAL_NAME wanted in all: only the missing ones
    are added. Slots of other names are not counted: the demo's (tracking/demo.py) are
    its own and busy while it runs, so counting them would leave an executor set up
    beside a running demo nothing free. gpu, node and aws resources are matched by
    name, the passive resource by type, so running it twice duplicates nothing. The
    caller holds the transaction. Two queries a type, and one a named resource asked for.
    """
    if cpu < 0:
        raise ValueError("the number of CPU slots must be 0 or more")
    wanted = {"gpu": gpu, "node": node, "aws": aws, "passive": [LOCAL_NAME] if passive else []}
    reports = []
    for rtype in RESOURCE_TYPES:
        if rtype == "cpu":
            reports.append(_add_cpu_slots(cpu))
            continue
        added = tuple(
            name for name in wanted[rtype] if Resource.objects.get_or_create(type=rtype, name=name)[1]
        )
        reports.append(TypeReport(rtype, Resource.objects.filter(type=rtype).count(), added))
    return reports


def _add_cpu_slots(wanted):
    slots = Resource.objects.filter(type="cpu")
    have = slots.filter(name=LOCAL_NAME).count()
    if wanted > have:
        Resource.objects.bulk_create(Resource(type="cpu", name=LOCAL_NAME) for _ in range(have, wanted))
    others = slots.exclude(name=LOCAL_NAME)
    other_names = tuple(others.order_by("name").values_list("name", flat=True).distinct()[: OTHER_NAMES_SHOWN + 1])
    return TypeReport(
        "cpu",
        max(have, wanted),
        added=(LOCAL_NAME,) * max(0, wanted - have),
        others=others.count() if other_names else 0,
        other_names=other_names,
    )
