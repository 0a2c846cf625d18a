from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "allyproof.accounts"
    label = "accounts"
