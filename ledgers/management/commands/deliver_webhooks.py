"""manage.py deliver_webhooks: one sweep of the webhook outbox (what beat runs every minute)."""

from django.core.management.base import BaseCommand

from ledgers.api.webhooks import sweep


class Command(BaseCommand):
    help = "发送到期的 Webhook 推送（一轮）"

    def handle(self, *args, **options):
        outcome = sweep()
        self.stdout.write("，".join(f"{status} {n}" for status, n in outcome.items()) or "没有到期的推送。")
