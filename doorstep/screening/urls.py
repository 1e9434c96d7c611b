from .urls_coverage import urlpatterns as coverage_urls
from .urls_field import urlpatterns as field_urls
from .urls_offline import urlpatterns as offline_urls

app_name = "screening"
urlpatterns = [*coverage_urls, *field_urls, *offline_urls]
