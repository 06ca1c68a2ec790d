from rest_framework.pagination import PageNumberPagination


class Pages(PageNumberPagination):
    """?page=N&page_size=M (at most 100); the response says `count`, `next` and `previous`."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100

