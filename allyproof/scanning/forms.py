from django import forms

from .models import ScanSettings


class ScanSettingsForm(forms.ModelForm):
    class Meta:
        model = ScanSettings
        fields = ["schedule", "schedule_weekday", "schedule_time", "page_cap", "depth_cap", "include_patterns",
                  "exclude_patterns", "respect_robots", "query_handling", "best_practices", "requests_per_second"]
        labels = {
            "schedule": "Scheduled scans", "schedule_weekday": "Day (weekly)", "schedule_time": "Time (UTC)",
            "page_cap": "Most pages per scan", "depth_cap": "Most links deep", "include_patterns": "Only pages matching",
            "exclude_patterns": "Never pages matching", "respect_robots": "Follow robots.txt",
            "query_handling": "Query strings", "best_practices": "Also axe's best-practice rules",
            "requests_per_second": "Requests per second to the site",
        }
        help_texts = {
            "include_patterns": "One pattern per line on the path, e.g. /blog/*. Empty: every page.",
            "exclude_patterns": "One pattern per line, e.g. /admin/*",
            "requests_per_second": "Politeness limit for the client's server.",
        }
        widgets = {
            "schedule_weekday": forms.Select(choices=[(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"),
                                                      (4, "Friday"), (5, "Saturday"), (6, "Sunday")]),
            "schedule_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "include_patterns": forms.Textarea(attrs={"rows": 2}),
            "exclude_patterns": forms.Textarea(attrs={"rows": 2}),
        }

    def clean_page_cap(self):
        value = self.cleaned_data["page_cap"]
        if not 1 <= value <= 5000:
            raise forms.ValidationError("Choose between 1 and 5,000 pages.")
        return value

    def clean_requests_per_second(self):
        value = self.cleaned_data["requests_per_second"]
        if not 0.1 <= value <= 50:
            raise forms.ValidationError("Choose between 0.1 and 50 requests per second.")
        return value
