"""Request facts that security decisions rest on."""

from django.conf import settings


def client_ip(request):
    """The client's address: from the configured proxy header if there is one, else REMOTE_ADDR."""
    header = settings.CLIENT_IP_HEADER
    if header:
        meta_key = "HTTP_" + header.upper().replace("-", "_")
        forwarded = request.META.get(meta_key, "")
        # With a chain "client, proxy1, proxy2" the proxy we trust appended the last hop's view;
        # the left-most entry is what the first proxy saw.
        candidate = forwarded.split(",")[0].strip()
        if candidate:
            return candidate
    return request.META.get("REMOTE_ADDR")
