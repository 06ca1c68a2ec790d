"""The API's JSON parser: DRF's, with a body nested past Python's recursion limit refused as a 400."""
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class JSONBodyParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        # json raises RecursionError, not the ValueError DRF turns into a 400, for "[[[[..." 5,000 deep.
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
