from django import forms

from .models import Site


class SiteForm(forms.ModelForm):
    class Meta:
        model = Site
        fields = ["name", "base_url"]
        labels = {"name": "Site name", "base_url": "Base URL"}
        help_texts = {"base_url": "The address scans start from, e.g. https://www.acme.example/"}


class ScanUploadForm(forms.Form):
    results = forms.FileField(
        label="axe-core results (JSON)",
        help_text="What axe.run() returns for one page, a list of those, or a file saved by @axe-core/cli --save.",
    )
