from .selectors import memberships_for_user


def organization(request):
    membership = getattr(request, "membership", None)
    if membership is None:
        return {"membership": None}
    return {
        "nav": request.path.strip("/").split("/")[0],
        "membership": membership,
        "organization": membership.organization,
        "memberships": memberships_for_user(user=request.user),
    }
