"""The admin: resources managed entirely from here, experiments and jobs browsable
(read-mostly: results are the executors' record), users and researchers, API tokens.

Links to the dashboard come from the models' get_absolute_url ("View on site" too).
"""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from aupsite.security import AdminLoginForm
from tracking import recovery
from tracking.models import (
    ApiToken,
    Experiment,
    ExperimentShare,
    IntermediateResult,
    Job,
    JobAttempt,
    MultipleResult,
    Resource,
    ResourceStatus,
    ResultLabel,
    Tag,
    count_of,
)
from tracking import notes
from tracking.resources import add_resources, comma_list
from tracking.scores import decode_score
from tracking.templatetags.dashboard import clip

# A change page shows a bounded part of what an object holds: at most this many label
# names (the rest on the labels' own changelist, paged) and this many characters of a
# configuration. No inline lists labels: an experiment may hold 200,000 of them.
ADMIN_LABELS_SHOWN = 50
ADMIN_ATTEMPTS_SHOWN = 50
ADMIN_CONFIG_CHARS = 10_000

# The admin's login is rate-limited like the site's; this form gives the message.
admin.site.login_form = AdminLoginForm
admin.site.site_header = "aupsite administration"
admin.site.site_title = "aupsite admin"


def bounded_json(value):
    """A JSON value as the admin shows it: indented, cut to ADMIN_CONFIG_CHARS."""
    return format_html("<pre>{}</pre>", clip(json.dumps(value, indent=2, ensure_ascii=False), ADMIN_CONFIG_CHARS))


def admin_link(model, pk, text):
    if pk is None:
        return "-"
    url = reverse(f"admin:tracking_{model._meta.model_name}_change", args=[pk])
    return format_html('<a href="{}">{}</a>', url, text)


# -- resources ----------------------------------------------------------------------


class BulkAddResourcesForm(forms.Form):
    cpu = forms.IntegerField(
        label="CPU slots in all", min_value=0, max_value=4096, initial=0,
        help_text="The number of cpu slots on localhost wanted; only the missing ones are added (others, such as the demo's, are not counted).",
    )
    gpu = forms.CharField(label="GPU ids", required=False, help_text="Comma-separated, e.g. 0,1,2,3")
    node = forms.CharField(label="Remote nodes", required=False, help_text="Comma-separated, e.g. me@host1,me@host2:2222")
    aws = forms.CharField(label="AWS instance ids", required=False, help_text="Comma-separated")
    passive = forms.BooleanField(label="The passive resource", required=False)

    def _names(self, field):
        value = self.cleaned_data.get(field, "").strip()
        if not value:
            return []
        try:
            return comma_list(value)
        except ValueError as exc:
            raise forms.ValidationError(f"Not a comma-separated list of names: {exc}.") from None

    def clean_gpu(self):
        return self._names("gpu")

    def clean_node(self):
        return self._names("node")

    def clean_aws(self):
        return self._names("aws")


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "name", "status", "in_service", "holder_job", "holder_experiment", "busy_since"]
    list_display_links = ["id", "name"]
    list_filter = ["type", "status", "in_service"]
    search_fields = ["name", "type", "=id"]
    ordering = ["type", "id"]
    fields = ["type", "name", "in_service", "status", "holder", "taken_at", "holder_job", "holder_experiment"]
    readonly_fields = ["status", "holder", "taken_at", "holder_job", "holder_experiment"]
    actions = ["free_resources", "take_out_of_service", "put_in_service"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_holder()

    @admin.display(description="held by job")
    def holder_job(self, resource):
        return admin_link(Job, resource.holder_job_id, f"job {resource.holder_job_number}")

    @admin.display(description="of experiment")
    def holder_experiment(self, resource):
        if resource.holder_experiment_id is None:
            return "-"
        name = resource.holder_experiment_name or f"experiment {resource.holder_experiment_id}"
        return admin_link(Experiment, resource.holder_experiment_id, f"{name} ({resource.holder_experiment_status})")

    @admin.display(description="busy since", ordering="taken_at")
    def busy_since(self, resource):
        return resource.taken_at if resource.status == ResourceStatus.BUSY else "-"

    # Bulk add: a page of its own (an admin action needs a selection to act on).
    def get_urls(self):
        bulk_add = path(
            "add-bulk/",
            self.admin_site.admin_view(self.bulk_add_view),
            name="tracking_resource_bulk_add",
        )
        return [bulk_add, *super().get_urls()]

    def bulk_add_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = BulkAddResourcesForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            with transaction.atomic():
                report = add_resources(**form.cleaned_data)
            # One line a type, what exists and what was added, as aup_setup prints.
            for line in report:
                self.message_user(request, str(line), messages.SUCCESS if line.added else messages.INFO)
            return HttpResponseRedirect(reverse("admin:tracking_resource_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Add resources in bulk",
            "form": form,
        }
        return TemplateResponse(request, "admin/tracking/resource/bulk_add.html", context)

    @admin.action(description="Free selected resources", permissions=["change"])
    def free_resources(self, request, queryset):
        now = timezone.now()
        busy = queryset.filter(status=ResourceStatus.BUSY)
        held = list(busy.held(now).with_holder().order_by("pk"))
        choice = request.POST.get("confirm")
        if held and choice not in ("all", "ended"):
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Free resources that running jobs still hold?",
                "held": held,
                "selected": queryset.order_by("pk"),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/tracking/resource/free_confirmation.html", context)
        with transaction.atomic():
            if choice == "all":
                freed = busy.free()
            else:
                # The same rule as aup_reset, re-checked by the UPDATE itself.
                freed = busy.orphaned(now).free()
        kept = busy.count()
        self.message_user(request, f"Freed {freed} resource(s).", messages.SUCCESS)
        if kept:
            self.message_user(request, f"{kept} selected resource(s) stay busy: running jobs hold them.", messages.WARNING)

    @admin.action(description="Take selected resources out of service", permissions=["change"])
    def take_out_of_service(self, request, queryset):
        changed = queryset.filter(in_service=True).update(in_service=False)
        self.message_user(
            request,
            f"Took {changed} resource(s) out of service: executors are no longer given them "
            "(a busy one stays with its job until that job ends).",
            messages.SUCCESS,
        )

    @admin.action(description="Put selected resources back in service", permissions=["change"])
    def put_in_service(self, request, queryset):
        changed = queryset.filter(in_service=False).update(in_service=True)
        self.message_user(request, f"Put {changed} resource(s) back in service.", messages.SUCCESS)


# -- experiments ---------------------------------------------------------------------


class ExperimentShareInline(admin.TabularInline):
    model = ExperimentShare
    extra = 0
    fields = ["user", "group", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user", "group"]
    verbose_name = "read-only share"


@admin.register(ResultLabel)
class ResultLabelAdmin(admin.ModelAdmin):
    """An experiment's labels, a page at a time (its change page shows the first few and
    links here, ?experiment__id__exact=<eid>). Read-only: they are the executors' record."""

    list_display = ["label_order", "name", "experiment_link"]
    search_fields = ["name", "=experiment__id"]
    list_select_related = ["experiment"]
    ordering = ["experiment", "label_order"]
    list_per_page = 100
    fields = ["experiment_link", "label_order", "name"]
    readonly_fields = fields
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="experiment", ordering="experiment")
    def experiment_link(self, label):
        return admin_link(Experiment, label.experiment_id, str(label.experiment))


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "status", "start_time", "end_time", "job_count", "tags_display", "dashboard"]
    list_display_links = ["id", "name"]
    list_filter = ["status", ("owner", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "owner__username", "=id", "=tags__name"]
    list_select_related = ["owner"]
    ordering = ["-id"]
    fields = [
        "name", "owner", "status", "start_time", "end_time", "error_msg_display",
        "job_count", "jobs_link", "labels", "dashboard", "config_display", "tags_display", "notes_display",
    ]
    # Only the name and the owner are the admin's to change; the rest is the
    # executors' record. Status changes go through the controls or aup_reset.
    readonly_fields = [
        "status", "start_time", "end_time", "error_msg_display", "job_count", "jobs_link", "labels", "dashboard",
        "config_display", "tags_display", "notes_display",
    ]
    # A search box, not a <select> of every user.
    autocomplete_fields = ["owner"]
    inlines = [ExperimentShareInline]
    actions = ["delete_selected", "reset_experiments"]

    def get_queryset(self, request):
        # The tags of a page of experiments: one query more (notes and tags).
        return super().get_queryset(request).annotate(job_count=count_of(Job, "experiment")).with_tags()

    # -- notes and tags (issue 13, item 7): shown here, changed on the experiment's page
    # or through the API, where their rules are checked (tracking/notes.py).

    def lookup_allowed(self, lookup, value, request=None):
        # The tag admin links here with the experiments of one tag.
        return lookup == "tags__id__exact" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="tags")
    def tags_display(self, experiment):
        tags = [tag.name for tag in experiment.tags.all()]
        return ", ".join(tags) if tags else "-"

    @admin.display(description="notes")
    def notes_display(self, experiment):
        return format_html("<pre>{}</pre>", clip(experiment.notes, ADMIN_CONFIG_CHARS)) if experiment.notes else "-"

    # -- end of notes and tags

    def has_add_permission(self, request):
        return False  # experiments are started by executors

    @admin.display(description="jobs", ordering="job_count")
    def job_count(self, experiment):
        return experiment.job_count

    @admin.display(description="jobs in the admin")
    def jobs_link(self, experiment):
        url = reverse("admin:tracking_job_changelist") + f"?experiment__id__exact={experiment.pk}"
        return format_html('<a href="{}">{} job(s)</a>', url, experiment.job_count)

    @admin.display(description="dashboard")
    def dashboard(self, experiment):
        return format_html('<a href="{}">page</a>', experiment.get_absolute_url())

    @admin.display(description="labels")
    def labels(self, experiment):
        """The first ADMIN_LABELS_SHOWN label names, and a link to all of them. Two queries."""
        shown = list(experiment.result_labels.order_by("label_order").values_list("label_order", "name")[:ADMIN_LABELS_SHOWN])
        if not shown:
            return "-"
        total = experiment.result_labels.count()
        url = reverse("admin:tracking_resultlabel_changelist") + f"?experiment__id__exact={experiment.pk}"
        names = format_html_join(", ", "{}: {}", shown)
        more = f"the first {len(shown)} of {total:,}" if total > len(shown) else f"all {total:,}"
        return format_html('{} <br><a href="{}">{} label(s) in the admin</a> ({} shown)', names, url, total, more)

    @admin.display(description="configuration")
    def config_display(self, experiment):
        return bounded_json(experiment.config)

    @admin.display(description="error message")
    def error_msg_display(self, experiment):
        return clip(experiment.error_msg, ADMIN_CONFIG_CHARS) if experiment.error_msg else "-"

    def get_deleted_objects(self, objs, request):
        """Say what goes with the experiments in a few COUNT queries, whatever their size.

        Django's own listing collects every related row to print it: millions of
        intermediate results for a big experiment. And it asks for the delete
        permission of jobs, which nobody has (jobs are never deleted one by one).
        Deleting an experiment deletes its whole record, so its own permission is the
        one that counts.
        """
        experiments = list(objs)
        ids = [experiment.pk for experiment in experiments]
        related = [
            (Job, "experiment"),
            (JobAttempt, "job__experiment"),
            (IntermediateResult, "job__experiment"),
            (MultipleResult, "experiment"),
            (ResultLabel, "experiment"),
            (ExperimentShare, "experiment"),
        ]
        per_experiment = {pk: [] for pk in ids}
        model_count = {Experiment._meta.verbose_name_plural: len(ids)}
        for model, field in related:
            counts = dict(
                model.objects.filter(**{f"{field}__in": ids})
                .order_by()
                .values_list(field)
                .annotate(n=Count("pk"))
                .values_list(field, "n")
            )
            total = sum(counts.values())
            if total:
                model_count[model._meta.verbose_name_plural] = total
            for pk, count in counts.items():
                name = model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural
                per_experiment[pk].append(f"{count} {name}")
        deleted_objects = []
        for experiment in experiments:
            link = admin_link(Experiment, experiment.pk, str(experiment))
            deleted_objects.append(format_html("Experiment: {}", link))
            if per_experiment[experiment.pk]:
                deleted_objects.append(per_experiment[experiment.pk])
        perms_needed = set() if self.has_delete_permission(request) else {Experiment._meta.verbose_name}
        return deleted_objects, model_count, perms_needed, []

    @admin.action(description="Reset selected experiments (their executor is gone)", permissions=["change"])
    def reset_experiments(self, request, queryset):
        """aup_reset --experiment for the selected experiments, after a confirmation
        page showing exactly what it would change (a dry run)."""
        eids = list(queryset.values_list("pk", flat=True))
        if request.POST.get("post") != "yes":
            preview = recovery.reset(eids=eids, dry_run=True)
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Reset these experiments?",
                "lines": preview.lines()[:-1],  # without "dry run: nothing was written"
                "changed": preview.changed,
                "selected": queryset.order_by("pk"),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/tracking/experiment/reset_confirmation.html", context)
        report = recovery.reset(eids=eids)
        for line in report.lines():
            self.message_user(request, line, messages.SUCCESS if report.changed else messages.INFO)


# -- jobs ----------------------------------------------------------------------------


class JobAttemptInline(admin.TabularInline):
    model = JobAttempt
    extra = 0
    fields = ["number", "resource", "start_time", "end_time"]
    readonly_fields = fields
    can_delete = False
    ordering = ["number"]
    verbose_name_plural = f"attempts (the first {ADMIN_ATTEMPTS_SHOWN}; all of them: GET /api/jobs/<id>/attempts/)"

    def get_queryset(self, request):
        # Attempts are numbered 0, 1, ... per job: the first ADMIN_ATTEMPTS_SHOWN, without
        # a slice (the inline's formset filters the queryset by job afterwards).
        return super().get_queryset(request).filter(number__lt=ADMIN_ATTEMPTS_SHOWN).select_related("resource")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Jobs are the executors' record: browsable and searchable, never edited or
    deleted by hand (they go with their experiment, or with its restart)."""

    # Its number within its experiment is what the pages call it ("Job 3"); the id is
    # the jid of URLs, the API and executors' logs.
    list_display = [
        "number_display", "id", "experiment_link", "status", "score_display", "start_time", "end_time",
        "attempt_count", "dashboard",
    ]
    list_display_links = ["number_display", "id"]
    list_filter = ["status"]
    search_fields = ["=id", "experiment__name", "=experiment__id"]
    list_select_related = ["experiment"]
    ordering = ["-id"]
    fields = [
        "number", "experiment_link", "status", "score_display", "start_time", "end_time",
        "attempt_count", "step_count", "labeled_count", "dashboard", "config_display",
    ]
    readonly_fields = fields
    inlines = [JobAttemptInline]
    actions = None

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(attempt_count=count_of(JobAttempt, "job"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="job", ordering="number")
    def number_display(self, job):
        return str(job)

    @admin.display(description="experiment", ordering="experiment")
    def experiment_link(self, job):
        return admin_link(Experiment, job.experiment_id, str(job.experiment))

    @admin.display(description="score", ordering="score")
    def score_display(self, job):
        value = decode_score(job.score, job.score_text)
        return "-" if value is None else value

    @admin.display(description="attempts", ordering="attempt_count")
    def attempt_count(self, job):
        return job.attempt_count

    @admin.display(description="intermediate results")
    def step_count(self, job):
        return IntermediateResult.objects.filter(job=job).count()

    @admin.display(description="labeled results")
    def labeled_count(self, job):
        return MultipleResult.objects.filter(job=job).count()

    @admin.display(description="dashboard")
    def dashboard(self, job):
        return format_html('<a href="{}">page</a>', job.get_absolute_url())

    @admin.display(description="configuration")
    def config_display(self, job):
        return bounded_json(job.config)


# -- tags (notes and tags, issue 13 item 7) -----------------------------------------


class TagForm(forms.ModelForm):
    class Meta:
        model = Tag
        fields = ["name"]

    def clean_name(self):
        # The one rule of tag names (tracking/notes.py), as the pages and the API apply it.
        try:
            return notes.tag_name(self.cleaned_data["name"])
        except notes.AnnotationError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    """Tags, with how many experiments carry each (a tag no experiment carries any more
    stays until deleted here). Renaming one renames it on every experiment."""

    form = TagForm
    list_display = ["name", "experiment_count"]
    search_fields = ["name"]
    ordering = ["name"]
    fields = ["name", "experiments_link"]
    readonly_fields = ["experiments_link"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(experiment_count=Count("experiments"))

    @admin.display(description="experiments", ordering="experiment_count")
    def experiment_count(self, tag):
        return tag.experiment_count

    @admin.display(description="experiments in the admin")
    def experiments_link(self, tag):
        if tag.pk is None:
            return "-"
        url = reverse("admin:tracking_experiment_changelist") + f"?tags__id__exact={tag.pk}"
        return format_html('<a href="{}">{} experiment(s)</a>', url, tag.experiment_count)


# -- users ---------------------------------------------------------------------------

User = get_user_model()

RESEARCHER_HELP = (
    "A researcher is a user without staff status: they log in to the dashboard and see "
    "their own experiments and those shared with them. Executors record experiments "
    "under this user name (Experiment(config, username=...)). Give staff status only to "
    "admins: staff see and control every experiment."
)


class ResearcherUserAdmin(UserAdmin):
    """Django's UserAdmin, with the researcher's details on the add page and the
    number of experiments each user owns."""

    add_fieldsets = (
        *UserAdmin.add_fieldsets,
        ("Researcher", {"classes": ("wide",), "fields": ("first_name", "last_name", "email"), "description": RESEARCHER_HELP}),
    )
    list_display = ["username", "email", "first_name", "last_name", "is_staff", "is_active", "experiment_count"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(experiment_count=count_of(Experiment, "owner"))

    @admin.display(description="experiments", ordering="experiment_count")
    def experiment_count(self, user):
        return user.experiment_count


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ResearcherUserAdmin)


# -- API tokens: an administrator issues and revokes them for any user ---------------


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created", "last_used", "revoked"]
    list_filter = [("revoked", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "name"]
        return ["user", "name", "prefix", "created", "last_used", "revoked"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["user", "prefix", "created", "last_used", "revoked"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        secret = obj.set_new_secret()
        super().save_model(request, obj, form, change)
        # The only time anyone sees the secret: only its hash is stored.
        self.message_user(
            request,
            f"The secret of token “{obj.name}” for {obj.user}, shown this once: {secret}",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        revoked = queryset.filter(Q(revoked__isnull=True)).update(revoked=timezone.now())
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
