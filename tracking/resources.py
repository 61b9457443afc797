"""Adding resources, shared by the aup_setup command and the admin's bulk-add form."""

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


def add_resources(cpu=0, gpu=(), node=(), aws=(), passive=False):
    """Create the resources that are missing, as Auptimizer's setup does, and say what
    was added (a list of lines; empty when nothing was missing).

    `cpu` is the number of CPU slots wanted in all: only the missing ones are added.
    gpu, node and aws resources are matched by name, the passive resource by type, so
    running it twice duplicates nothing. The caller holds the transaction.
    """
    if cpu < 0:
        raise ValueError("the number of CPU slots must be 0 or more")
    report = []

    def add_named(rtype, names):
        for name in names:
            _, created = Resource.objects.get_or_create(type=rtype, name=name)
            if created:
                report.append(f"added {rtype} {name}")

    # In Auptimizer's order (aup.setupdb.sqlite.create_database): GPUs, nodes, AWS, CPU
    # slots, passive, so that get_resource_type() lists the types as Auptimizer's does.
    add_named("gpu", gpu)
    add_named("node", node)
    add_named("aws", aws)
    have_cpu = Resource.objects.filter(type="cpu").count()
    if cpu > have_cpu:
        Resource.objects.bulk_create(Resource(type="cpu", name=LOCAL_NAME) for _ in range(have_cpu, cpu))
        report.append(f"added {cpu - have_cpu} cpu slot(s), {cpu} in all")
    add_named("passive", [LOCAL_NAME] if passive else [])
    return report
