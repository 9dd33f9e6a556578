"""The two ways a Go template fails: it does not parse, or it fails while executing."""


class TemplateError(Exception):
    """A template could not be parsed or executed; the message reads like Go's."""


class TemplateParseError(TemplateError):
    """``template: NAME:LINE: message``, as ``template.Parse`` reports it."""


class TemplateExecError(TemplateError):
    """``template: NAME:LINE:COL: executing "NAME" at <node>: message``, as Go reports it."""
