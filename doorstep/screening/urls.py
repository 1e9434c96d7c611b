from .urls_coverage import urlpatterns as coverage_urls
from .urls_field import urlpatterns as field_urls

app_name = "screening"
urlpatterns = [*coverage_urls, *field_urls]
