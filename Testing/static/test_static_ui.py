"""The .ui files are valid Qt Designer XML and match what the module files use."""

from __future__ import annotations

import ast
import re

import pytest
from slicer_static import (
    MODULES,
    annotated_fields,
    class_def,
    decorated_with,
    parse,
    ui_parameter_names,
    ui_tree,
    ui_widgets,
)

# Custom widget classes the Slicer app provides, with the Qt class they extend.
CUSTOM_WIDGETS = {
    "qMRMLWidget": "QWidget",
    "qMRMLNodeComboBox": "QWidget",
    "qMRMLTableView": "QTableView",
    "ctkCollapsibleButton": "QWidget",
}
# Widget-like names used indirectly (getattr(self.ui, NAME) through constants).
WIDGET_NAME = re.compile(
    r"^[a-z][A-Za-z0-9]*(Button|Label|Selector|View|ComboBox|SpinBox|CheckBox|Bar|Widget)$"
)

ids = [m.name for m in MODULES]


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_ui_is_qt_designer_xml(module):
    root = ui_tree(module.ui)
    assert root.tag == "ui" and root.get("version") == "4.0"
    assert root.findtext("class") == module.name
    top = root.find("widget")
    assert top is not None, "no top-level widget"
    # MRML widgets get their scene from the top qMRMLWidget (uiWidget.setMRMLScene).
    assert top.get("class") == "qMRMLWidget" and top.get("name") == module.name
    assert top.find("layout") is not None, "top widget has no layout"


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_ui_widget_names_are_unique(module):
    names = [w.get("name") for w in ui_tree(module.ui).iter("widget")]
    assert all(names), "a widget has no name"
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_custom_widgets_are_declared(module):
    root = ui_tree(module.ui)
    declared = {c.findtext("class"): c for c in root.iter("customwidget")}
    used = {cls for cls in ui_widgets(root).values() if not cls.startswith("Q")}
    for cls in used:
        assert cls in declared, f"{cls} used but not in <customwidgets>"
        assert declared[cls].findtext("header") == f"{cls}.h"
        assert declared[cls].findtext("extends") == CUSTOM_WIDGETS[cls]


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_mrml_widgets_receive_the_scene(module):
    root = ui_tree(module.ui)
    connected = {
        c.findtext("receiver")
        for c in root.iter("connection")
        if c.findtext("sender") == module.name
        and c.findtext("signal") == "mrmlSceneChanged(vtkMRMLScene*)"
        and c.findtext("slot") == "setMRMLScene(vtkMRMLScene*)"
    }
    mrml = {
        n for n, cls in ui_widgets(root).items() if cls.startswith("qMRML") and n != module.name
    }
    assert mrml, "no MRML widget"
    assert mrml <= connected, f"not connected to mrmlSceneChanged: {sorted(mrml - connected)}"


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_every_ui_name_used_by_the_module_exists(module):
    tree = parse(module.source)
    widgets = ui_widgets(ui_tree(module.ui))
    used = {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute)
        and isinstance(n.value, ast.Attribute)
        and n.value.attr == "ui"
        and isinstance(n.value.value, ast.Name)
        and n.value.value.id == "self"
    }
    indirect = {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and WIDGET_NAME.match(n.value)
    }
    assert used, "the module file uses no self.ui widget"
    missing = sorted((used | indirect) - set(widgets))
    assert not missing, f"{module.source.name} uses widgets absent from {module.ui.name}: {missing}"


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_parameter_bindings_match_the_parameter_node(module):
    tree = parse(module.source)
    wrapper = class_def(tree, f"{module.name}ParameterNode")
    assert decorated_with(wrapper, "parameterNodeWrapper")
    fields = set(annotated_fields(wrapper))
    bound = ui_parameter_names(ui_tree(module.ui))
    assert set(bound.values()) == fields, (
        f"widgets bound {sorted(bound.values())} vs parameter node fields {sorted(fields)}"
    )


@pytest.mark.parametrize("module", MODULES, ids=ids)
def test_bound_widget_types_fit_the_field_types(module):
    """The parameter node wrapper connects only exact widget classes to each type."""
    tree = parse(module.source)
    fields = annotated_fields(class_def(tree, f"{module.name}ParameterNode"))
    annotations = {
        n.target.id: ast.unparse(n.annotation)
        for n in class_def(tree, f"{module.name}ParameterNode").body
        if isinstance(n, ast.AnnAssign)
    }
    root = ui_tree(module.ui)
    widgets = ui_widgets(root)
    for widget, field in ui_parameter_names(root).items():
        annotation, cls = annotations[field], widgets[widget]
        if "vtkMRML" in annotation:
            assert cls == "qMRMLNodeComboBox", (widget, annotation)
        elif "Choice" in annotation:
            assert cls == "QComboBox", (widget, annotation)
        elif annotation == "bool":
            assert cls == "QCheckBox", (widget, annotation)
        elif annotation.startswith("Annotated[int") or annotation == "int":
            assert cls == "QSpinBox", (widget, annotation)
        else:
            pytest.fail(f"no check for field {field}: {annotation}")
        assert field in fields
