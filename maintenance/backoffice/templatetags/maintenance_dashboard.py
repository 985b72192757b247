"""``{% workshop_dashboard as dashboard %}``: the admin index's dashboard data (see ..dashboard)."""

from django import template

from maintenance.backoffice.dashboard import dashboard

register = template.Library()


@register.simple_tag(takes_context=True)
def workshop_dashboard(context):
    return dashboard(context["request"])
