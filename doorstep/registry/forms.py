from django import forms
from django.utils.translation import gettext_lazy as _

from doorstep.core.masking import mask_id_number, mask_phone

from .models import Household, IdType, Person, PersonStatus, Residency, Sex


class HouseholdForm(forms.ModelForm):
    class Meta:
        model = Household
        fields = ["road", "house_number", "building", "unit", "room", "address", "kind", "status"]


class PersonForm(forms.Form):
    """A person's fields. ID number and phone are shown masked; sending the masked text back
    keeps the stored value (services.person_update)."""

    name = forms.CharField(label=_("name"), max_length=50)
    id_type = forms.ChoiceField(label=_("ID type"), choices=IdType.choices)
    id_number = forms.CharField(label=_("ID number"), max_length=32, required=False)
    sex = forms.ChoiceField(label=_("sex"), choices=Sex.choices, required=False)
    birth_date = forms.DateField(
        label=_("birth date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    phone = forms.CharField(label=_("phone"), max_length=20, required=False)
    relation = forms.CharField(label=_("relation to head"), max_length=20, required=False)
    residency = forms.ChoiceField(label=_("residency"), choices=Residency.choices)
    status = forms.ChoiceField(label=_("status"), choices=PersonStatus.choices)

    @classmethod
    def for_person(cls, person: Person | None, data=None):
        initial = None
        if person is not None:
            initial = {
                "name": person.name,
                "id_type": person.id_type,
                "id_number": mask_id_number(person.shown_id_number),
                "sex": person.sex,
                "birth_date": person.birth_date,
                "phone": mask_phone(person.phone),
                "relation": person.relation,
                "residency": person.residency,
                "status": person.status,
            }
        return cls(data=data, initial=initial)
