import structlog
from django.core.management.base import BaseCommand, CommandError

from audit.selectors import audit_chain_verify

log = structlog.get_logger(__name__)


def _parse_expect(text: str) -> tuple[int, str]:
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise CommandError("--expect takes SEQ:HASH, e.g. 42:9f86d081884c7d65...")
    return int(seq), digest.lower()


class Command(BaseCommand):
    help = (
        "Walk the audit trail's hash chain; exit 1 naming the first broken link, "
        "else print (and log) the chain head."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect",
            metavar="SEQ:HASH",
            help="a head recorded outside the database (backup manifest, logs) that must "
            "still be in the chain",
        )

    def handle(self, *args, expect: str | None = None, **options):
        report = audit_chain_verify(expect=_parse_expect(expect) if expect else None)
        if not report.ok:
            log.error("audit.chain_broken", broken_seq=report.broken_seq, problem=report.problem)
            raise CommandError(
                f"audit chain broken at event #{report.broken_seq}: {report.problem}"
            )
        log.info("audit.verified", events=report.count, seq=report.head_seq, hash=report.head_hash)
        self.stdout.write(
            f"audit chain ok: {report.count} events, head #{report.head_seq} {report.head_hash}"
        )
